// HCP/1: its stream_codec through a framed_reader, and its decoders on every
// frame and on the whole input. What is checked: a frame starts with a type
// byte and has that type's shape; decoded names and text are views into the
// frame; re-encoding what was decoded gives the frame's bytes back (the
// padding stripped is exactly the NULs the encoder puts back).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "hcp/wire/hcp1.hpp"

namespace {

using namespace howdy_fuzz;
namespace hcp1 = hcp::hcp1;

constexpr std::array<std::size_t, 8> max_frames{1, 64, 65, 66, 129, 130, 200, 65536};

// The field's name is the field less its trailing NULs.
void check_stripped(std::string_view name, std::string_view field) {
  FUZZ_CHECK(field.size() == hcp::name_field_size);
  FUZZ_CHECK(name.data() == field.data() || name.empty());
  FUZZ_CHECK(name.size() <= field.size() && field.substr(0, name.size()) == name);
  FUZZ_CHECK(name.empty() || name.back() != '\0');
  FUZZ_CHECK(field.find_first_not_of('\0', name.size()) == std::string_view::npos);
}

// The decoders on one packet; `framed`: it came out of the stream codec.
void check_packet(bytes_view packet, bool framed) {
  const auto s = as_chars(packet);
  const unsigned t = packet.empty() ? 0 : std::to_integer<unsigned>(packet[0]);

  const auto np = hcp1::parse_name_packet(packet);
  FUZZ_CHECK(np.has_value() == (packet.size() == hcp1::name_packet_size && t >= 1 && t <= 3));
  if (np) {
    FUZZ_CHECK(static_cast<unsigned>(np->kind) == t);
    check_stripped(np->name.name, s.substr(1));
    FUZZ_CHECK(np->name.valid == hcp::is_valid_name(np->name.name));
    const auto again = t == 1   ? hcp1::encode_proposal(np->name.name)
                       : t == 2 ? hcp1::encode_ack(np->name.name)
                                : hcp1::encode_nak(np->name.name);
    FUZZ_CHECK(again == s);
  }

  FUZZ_CHECK(hcp1::is_overlong_proposal(packet) == (t == 1 && packet.size() > hcp1::name_packet_size));

  const auto up = hcp1::parse_update(packet);
  FUZZ_CHECK(up.has_value() == (t == 4 && (packet.size() - 1) % hcp::name_field_size == 0));
  if (up) {
    FUZZ_CHECK(up->size() == (packet.size() - 1) / hcp::name_field_size);
    for (std::size_t i = 0; i < up->size(); ++i)
      check_stripped((*up)[i], s.substr(1 + i * hcp::name_field_size, hcp::name_field_size));
    FUZZ_CHECK(hcp1::encode_update(*up) == s);
  }

  const auto msg = hcp1::parse_message(packet);
  FUZZ_CHECK(msg.has_value() == (t == 5 && packet.size() > hcp1::message_header_size));
  if (msg) {
    check_stripped(msg->sender, s.substr(1, hcp::name_field_size));
    check_stripped(msg->receiver, s.substr(1 + hcp::name_field_size, hcp::name_field_size));
    FUZZ_CHECK(!msg->text.empty() && msg->text.data() == s.data() + hcp1::message_header_size);
    FUZZ_CHECK(msg->text.size() == s.size() - hcp1::message_header_size);
    // The encoder puts SUB in place of type bytes in the text, nothing else.
    std::string want(s);
    for (std::size_t i = hcp1::message_header_size; i < want.size(); ++i)
      if (hcp1::is_type_byte(std::byte(static_cast<unsigned char>(want[i])))) want[i] = hcp1::text_substitute;
    FUZZ_CHECK(hcp1::encode_message(msg->sender, msg->receiver, msg->text) == want);
  }

  if (!framed) return;
  // What the stream codec hands out is always one of the packet shapes.
  FUZZ_CHECK(hcp1::is_type_byte(packet[0]));
  switch (t) {
    case 1:
      FUZZ_CHECK(np || hcp1::is_overlong_proposal(packet));
      // The server reads the field of any proposal from its first 65 bytes.
      FUZZ_CHECK(packet.size() >= hcp1::name_packet_size &&
                 hcp1::parse_name_packet(packet.first(hcp1::name_packet_size)));
      if (!np) FUZZ_CHECK(s[hcp1::name_packet_size - 1] != '\0');  // only an unpadded name runs on
      break;
    case 2:
    case 3:
      FUZZ_CHECK(np.has_value());
      break;
    case 4:
      FUZZ_CHECK(up.has_value());  // empty when the next packet follows at once (no one online)
      break;
    case 5:
      // The next packet may start right after the fields: a text-less type 5,
      // which parse_message refuses (a text is at least 1 byte).
      FUZZ_CHECK(msg.has_value() || packet.size() == hcp1::message_header_size);
      break;
  }
  // A packet that runs to the next type byte has none inside it past its fixed fields.
  const std::size_t fixed = t == 5 ? hcp1::message_header_size : t == 1 ? hcp1::name_packet_size : s.size();
  for (std::size_t i = fixed; i < s.size(); ++i) FUZZ_CHECK(!hcp1::is_type_byte(packet[i]));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto in = split(data, size);
  if (!in) return 0;
  in->options.max_frame_size = max_frames[in->max_frame_index];
  check_packet(in->stream, false);
  const auto got = read_and_compare(*in, hcp1::stream_codec{}, false, [&](const howdy::frame& f, std::size_t) {
    FUZZ_CHECK(f.payload.data() == f.bytes.data() && f.payload.size() == f.bytes.size());
    check_packet(f.bytes, true);
  });
  // Only a byte that starts no packet is malformed.
  if (got.end == howdy::error::malformed_frame) {
    std::size_t at = 0;
    for (auto& f : got.frames) at += f.size;
    FUZZ_CHECK(!hcp1::is_type_byte(in->stream[at]));
  }
  return 0;
}
