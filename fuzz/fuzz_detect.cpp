// The shared port: a connection's first bytes go to detect_protocol, then to
// the detected protocol's codec (with the server's limits) and decoder, as
// chat_server.hpp and the sessions do (there is no TLS yet). What is checked:
// detection is total and agrees with the codecs (only an HCP/1 type byte
// starts an HCP/1 packet, only 0x00 an HCP/2 frame under 16 MiB); the first
// frame has the detected protocol's shape and its decoder takes it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <howdy/codec/header_body.hpp>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "hcp/wire/detect.hpp"
#include "hcp/wire/hcp1.hpp"
#include "hcp/wire/hcp2.hpp"
#include "hcp/wire/text.hpp"

namespace {

using namespace howdy_fuzz;

// server_config::max_frame values; HCP/2 reads max_frame + 4 (its length field).
constexpr std::array<std::size_t, 8> max_frames{16, 64, 65, 129, 130, 1024, 4096, 65536};

// The first frame the server would get, copied out of the reader.
// (Compared with the reference where how the stream is cut cannot matter:
// always but for HCP/1, whose frames may end where the peer pauses.)
template <class Codec>
std::optional<std::vector<std::byte>> first_frame(const input& in, const Codec& codec, bool chunking_neutral) {
  std::optional<std::vector<std::byte>> first;
  read_and_compare(in, codec, chunking_neutral, [&](const howdy::frame& f, std::size_t) {
    if (!first) first.emplace(f.bytes.begin(), f.bytes.end());
  });
  return first;
}

bool starts_register(std::string_view line, std::string_view word) {
  for (std::string_view d : {"TOSEND", "TORECV"}) {
    const std::size_t n = word.size() + 1 + d.size();
    if (line.size() >= n && line.substr(0, word.size()) == word && line[word.size()] == ' ' &&
        line.substr(word.size() + 1, d.size()) == d && (line.size() == n || line[n] == ' '))
      return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto in = split(data, size);
  if (!in || in->stream.empty()) return 0;  // the server waits for a first byte
  const std::size_t max_frame = max_frames[in->max_frame_index];
  const auto first_byte = in->stream[0];
  const unsigned b = std::to_integer<unsigned>(first_byte);
  const auto p = hcp::detect_protocol(first_byte);

  // Total and exclusive, and in line with the codecs.
  FUZZ_CHECK((p == hcp::protocol::hcp1) == hcp::hcp1::is_type_byte(first_byte));
  FUZZ_CHECK((p == hcp::protocol::hcp2) == (b == 0));
  const auto as_hcp1 = hcp::hcp1::stream_codec{}.decode(in->stream, 65536);
  if (p != hcp::protocol::hcp1) FUZZ_CHECK(as_hcp1.status == howdy::decode_status::malformed);

  switch (p) {
    case hcp::protocol::hcp2: {
      in->options.max_frame_size = max_frame + hcp::hcp2::length_field_size;
      const auto f = first_frame(*in, hcp::hcp2::stream_codec{}, true);
      if (!f) break;
      FUZZ_CHECK(f->size() >= hcp::hcp2::header_size && f->size() < (std::size_t(1) << 24) + 4);
      const auto parsed = hcp::hcp2::parse(*f);
      // The server answers anything but HELLO 2 with ERROR 106; the header is always readable.
      if (const auto* bad = std::get_if<hcp::hcp2::parse_error>(&parsed))
        FUZZ_CHECK(bad->type == std::to_integer<std::uint8_t>((*f)[4]));
      if (const auto* hello = std::get_if<hcp::hcp2::hello>(&parsed))
        FUZZ_CHECK(*f == [&] {
          const auto e = hcp::hcp2::encode_hello(hello->version, hello->flags);
          const auto eb = as_bytes(e);
          return std::vector<std::byte>(eb.begin(), eb.end());
        }());
      break;
    }
    case hcp::protocol::hcp1: {
      in->options.max_frame_size = max_frame;
      const auto f = first_frame(*in, hcp::hcp1::stream_codec{}, false);
      if (!f) break;
      FUZZ_CHECK((*f)[0] == first_byte);
      const bytes_view packet(*f);
      if (b == 1) {  // the session reads the name from the first 65 bytes of any proposal
        FUZZ_CHECK(packet.size() >= hcp::hcp1::name_packet_size);
        FUZZ_CHECK(hcp::hcp1::parse_name_packet(packet.first(hcp::hcp1::name_packet_size)).has_value());
      }
      if (b == 2 || b == 3) FUZZ_CHECK(hcp::hcp1::parse_name_packet(packet).has_value());
      if (b == 4) FUZZ_CHECK(hcp::hcp1::parse_update(packet).has_value());
      if (b == 5)
        FUZZ_CHECK(hcp::hcp1::parse_message(packet).has_value() || packet.size() == hcp::hcp1::message_header_size);
      break;
    }
    case hcp::protocol::text: {
      in->options.max_frame_size = max_frame;
      const howdy::codec::header_body codec(hcp::text::delimiter, hcp::text::content_length_field);
      const auto f = first_frame(*in, codec, true);
      if (!f) break;  // the server answers ERROR 101 to an unframed first frame too
      const auto whole = as_chars(bytes_view(*f));
      const auto r = howdy::codec::header_body(codec).decode(bytes_view(*f), max_frame);
      FUZZ_CHECK(r.status == howdy::decode_status::complete && r.frame_size == f->size());
      const auto header = whole.substr(0, r.payload_offset - hcp::text::delimiter.size());
      const auto c = hcp::text::parse_command(header);
      FUZZ_CHECK(within(c.arg, header));
      // Only a REGISTER registers: anything else gets ERROR 101.
      auto line = header.substr(0, header.find('\n'));
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      FUZZ_CHECK((c.kind == hcp::text::command_kind::register_) == starts_register(line, "REGISTER"));
      FUZZ_CHECK((c.kind == hcp::text::command_kind::registered) == starts_register(line, "REGISTERED"));
      break;
    }
  }
  return 0;
}
