// HCP/1 framing. HCP/1 has no length field: types 0x01-0x03 are 65 bytes, a
// type 0x04 is 64-byte name blocks, a type 0x05 is 129 bytes of header and a
// text of any length. A 0x04 or 0x05 therefore ends where the peer's next
// packet starts (a byte 0x01-0x05, which never occurs in names or chat text)
// or, when the bytes received so far end inside it, where they end if nothing
// more is waiting to be read (`ends_if_idle`). A text cut inside a UTF-8
// sequence, or before its first byte, waits for the rest.
#pragma once

#include <howdy/frame_codec.hpp>

namespace howdy::codec {

struct hcp1 {
  static constexpr std::size_t name_size = 64;
  static constexpr std::size_t short_packet_size = 1 + name_size;      // types 1-3
  static constexpr std::size_t message_header_size = 1 + 2 * name_size;  // type 5

  static constexpr bool is_packet_start(std::byte b) noexcept {
    return b >= std::byte{0x01} && b <= std::byte{0x05};
  }

  decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) const noexcept {
    if (buffered.empty()) return decode_result::need_more();
    switch (std::to_integer<int>(buffered[0])) {
      case 1: case 2: case 3:
        if (short_packet_size > max_frame) return decode_result::too_large();
        if (buffered.size() < short_packet_size) return decode_result::need_more();
        return decode_result::complete(short_packet_size, 0, short_packet_size);
      case 4: return decode_update(buffered, max_frame);
      case 5: return decode_message(buffered, max_frame);
      default: return decode_result::malformed();
    }
  }

 private:
  static decode_result decode_update(std::span<const std::byte> b, std::size_t max_frame) noexcept {
    std::size_t end = 1;
    while (end < b.size() && !is_packet_start(b[end])) {
      if (end + name_size > max_frame) return decode_result::too_large();
      if (b.size() - end < name_size) return decode_result::need_more();
      end += name_size;
    }
    if (end < b.size()) return decode_result::complete(end, 0, end);
    if (end == 1) return decode_result::need_more();
    return decode_result::ends_if_idle(end, 0, end);
  }

  static decode_result decode_message(std::span<const std::byte> b, std::size_t max_frame) noexcept {
    if (message_header_size >= max_frame) return decode_result::too_large();
    if (b.size() <= message_header_size) return decode_result::need_more();
    // A packet may be exactly max_frame bytes: the next one may start right there.
    const std::size_t limit = b.size() <= max_frame ? b.size() : max_frame + 1;
    for (std::size_t i = message_header_size; i < limit; ++i)
      if (is_packet_start(b[i])) return decode_result::complete(i, 0, i);
    if (b.size() > max_frame) return decode_result::too_large();
    if (ends_inside_utf8_sequence(b.subspan(message_header_size))) return decode_result::need_more();
    return decode_result::ends_if_idle(b.size(), 0, b.size());
  }

  // True when the last bytes are the start of a multi-byte UTF-8 sequence
  // whose continuation bytes have not arrived yet.
  static bool ends_inside_utf8_sequence(std::span<const std::byte> text) noexcept {
    const std::size_t n = text.size();
    for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
      const auto c = std::to_integer<unsigned>(text[n - back]);
      if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
      const std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      return length > back;
    }
    return false;
  }
};

}  // namespace howdy::codec
