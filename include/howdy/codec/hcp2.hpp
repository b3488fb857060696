// HCP/2 framing: u32 big-endian length of what follows, then a type byte and
// the payload. The frame's payload is the type byte and everything after it.
#pragma once

#include <howdy/codec/length_prefixed.hpp>

namespace howdy::codec {

struct hcp2 {
  decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) const noexcept {
    auto r = u32_length_prefixed{}.decode(buffered, max_frame);
    // A frame always has its type byte.
    if (r.status == decode_status::complete && r.payload_size == 0) return decode_result::malformed();
    return r;
  }
};

}  // namespace howdy::codec
