// What a framing codec is: something that finds where the next frame ends in
// the bytes buffered so far. The framed reader owns the bytes and the I/O; a
// codec only looks at them, so new framings cost a few lines.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>

namespace howdy {

enum class decode_status {
  complete,        // a whole frame is buffered
  need_more,       // the frame continues past the buffered bytes
  ends_if_idle,    // a whole frame if the peer has stopped sending (see below)
  malformed,       // the bytes cannot start a frame of this framing
  too_large,       // the frame would be larger than the limit
};

struct decode_result {
  decode_status status = decode_status::need_more;
  std::size_t frame_size = 0;      // complete / ends_if_idle: bytes the frame occupies
  std::size_t payload_offset = 0;  // where its content starts (after a length header)
  std::size_t payload_size = 0;    // its content (without header or delimiter)

  static constexpr decode_result complete(std::size_t size, std::size_t offset, std::size_t payload) {
    return {decode_status::complete, size, offset, payload};
  }
  static constexpr decode_result ends_if_idle(std::size_t size, std::size_t offset, std::size_t payload) {
    return {decode_status::ends_if_idle, size, offset, payload};
  }
  static constexpr decode_result need_more() { return {decode_status::need_more}; }
  static constexpr decode_result malformed() { return {decode_status::malformed}; }
  static constexpr decode_result too_large() { return {decode_status::too_large}; }
};

// ends_if_idle is for framings whose frames carry neither a length nor an end
// marker: a frame ends where the next one starts, or where the peer stops
// sending. The codec answers it when the buffered bytes could be a whole frame
// but more bytes could still extend it; the reader then hands the frame out
// only if the stream has nothing more already received (its available(), when
// it has one; a stream without it counts as idle) or has ended, and otherwise
// reads more and asks again. Such a framing cannot tell a pause inside a frame
// from its end: use it only where the protocol gives no better boundary.

// A frame handed out by a reader: views into the reader's buffer, valid until
// the next call on that reader.
struct frame {
  std::span<const std::byte> bytes;    // the whole frame as it was on the wire
  std::span<const std::byte> payload;  // its content
};

// `decode` sees the buffered bytes starting at the first byte of the next
// frame, and the largest frame allowed (in bytes, header included). It must
// answer too_large as soon as it knows the frame will not fit, before the
// frame has been buffered. It may keep state between calls for one frame
// (e.g. how far it already scanned) and must reset it when it answers complete,
// ends_if_idle, malformed or too_large.
template <class C>
concept frame_codec = requires(C& codec, std::span<const std::byte> buffered, std::size_t max_frame) {
  { codec.decode(buffered, max_frame) } -> std::same_as<decode_result>;
};

}  // namespace howdy
