// Frames that start with their payload length as a big-endian unsigned integer.
#pragma once

#include <howdy/frame_codec.hpp>

#include <cstdint>
#include <type_traits>

namespace howdy::codec {

template <std::unsigned_integral Length>
struct length_prefixed {
  static constexpr std::size_t header_size = sizeof(Length);

  decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) const noexcept {
    if (buffered.empty()) return decode_result::need_more();
    // A limit below the length field: no frame fits, known from its first byte.
    if (header_size > max_frame) return decode_result::too_large();
    if (buffered.size() < header_size) return decode_result::need_more();
    std::uint64_t payload = 0;
    for (std::size_t i = 0; i < header_size; ++i)
      payload = (payload << 8) | std::to_integer<std::uint64_t>(buffered[i]);
    if (payload > max_frame || header_size + payload > max_frame) return decode_result::too_large();
    const std::size_t size = header_size + static_cast<std::size_t>(payload);
    if (buffered.size() < size) return decode_result::need_more();
    return decode_result::complete(size, header_size, size - header_size);
  }
};

using u16_length_prefixed = length_prefixed<std::uint16_t>;
using u32_length_prefixed = length_prefixed<std::uint32_t>;

}  // namespace howdy::codec
