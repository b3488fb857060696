// The seed-002 text protocol: frames found by header_body("\n\n",
// "Content-length") as the server reads them, and text::parse_command on each
// header and on the whole input. What is checked: the command's views lie in
// the header; its Content-length is the body the codec cut; a command
// re-encoded with the text encoders parses back to the same command.
#include <array>
#include <cstddef>
#include <cstdint>
#include <howdy/codec/header_body.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "hcp/wire/text.hpp"

namespace {

using namespace howdy_fuzz;
namespace text = hcp::text;

constexpr std::array<std::size_t, 8> max_frames{1, 2, 3, 10, 20, 64, 1000, 65536};

// The encoder's bytes for a command, or nullopt where no encoder takes it.
std::optional<std::string> reencode(const text::command& c, std::string_view body) {
  using k = text::command_kind;
  // error() takes any phrase (the server's own text); a CR at its end would be
  // read as part of the line break.
  if (c.kind == k::error) return c.arg.ends_with('\r') ? std::nullopt : std::optional(text::error(c.code, c.arg));
  if (!text::can_carry_name(c.arg)) return std::nullopt;  // the encoders refuse it
  switch (c.kind) {
    case k::register_:
      return text::register_line(c.direction, c.arg);
    case k::registered:
      return text::registered(c.direction, c.arg);
    case k::send:
      return text::send(c.arg, body);
    case k::received:
      return text::received(c.arg);
    case k::forward:
      return text::forward(c.arg, body);
    case k::sent:
      return text::sent(c.arg);
    default:
      return std::nullopt;
  }
}

void check_command(std::string_view header, std::string_view body, bool framed) {
  using k = text::command_kind;
  const auto c = text::parse_command(header);
  FUZZ_CHECK(within(c.arg, header));
  const auto first = header.substr(0, header.find('\n'));
  if (c.kind == k::unknown) FUZZ_CHECK(c.arg == first || c.arg.size() + 1 == first.size());  // less a '\r'
  if (c.kind == k::error) FUZZ_CHECK(c.code >= 0 && c.code <= 99999);

  // The body the codec cut is the command's Content-length (the codec also
  // reads a field on the first line; the command line is no field for parse_command).
  if (framed && !howdy::codec::header_field(first, text::content_length_field)) {
    if (howdy::codec::header_field(header, text::content_length_field))
      FUZZ_CHECK(c.content_length && *c.content_length == body.size());
    else
      FUZZ_CHECK(!c.content_length && body.empty());
  }

  const auto again = reencode(c, body);
  if (!again) return;
  // One whole frame, as the codec finds it, that parses to the same command.
  howdy::codec::header_body codec(text::delimiter, text::content_length_field);
  const auto r = codec.decode(as_bytes(*again), again->size());
  FUZZ_CHECK(r.status == howdy::decode_status::complete && r.frame_size == again->size());
  FUZZ_CHECK(again->substr(r.payload_offset, r.payload_size) ==
             (c.kind == k::send || c.kind == k::forward ? body : ""));
  const auto d = text::parse_command(std::string_view(*again).substr(0, r.payload_offset - text::delimiter.size()));
  FUZZ_CHECK(d.kind == c.kind);
  FUZZ_CHECK(d.arg == c.arg);
  FUZZ_CHECK(d.code == c.code);
  if (c.kind == k::register_ || c.kind == k::registered) FUZZ_CHECK(d.direction == c.direction);
  if (c.kind == k::send || c.kind == k::forward)
    FUZZ_CHECK(d.content_length && *d.content_length == body.size());
  else
    FUZZ_CHECK(!d.content_length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto in = split(data, size);
  if (!in) return 0;
  in->options.max_frame_size = max_frames[in->max_frame_index];
  check_command(as_chars(in->stream), {}, false);
  const howdy::codec::header_body codec(text::delimiter, text::content_length_field);
  read_and_compare(*in, codec, true, [&](const howdy::frame& f, std::size_t) {
    const auto bytes = as_chars(f.bytes);
    const std::size_t body_at = bytes.size() - f.payload.size();
    FUZZ_CHECK(body_at >= text::delimiter.size());
    check_command(bytes.substr(0, body_at - text::delimiter.size()), as_chars(f.payload), true);
  });
  return 0;
}
