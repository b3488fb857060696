// Reads frames out of a byte stream: large reads into one reusable buffer, and
// every complete frame already buffered is handed out before the next read.
//
//   howdy::framed_reader reader(socket, howdy::codec::lines());
//   for (;;) {
//     auto [ec, frame] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
//     if (ec) break;  // howdy::error::end_of_stream, truncated_frame, ...
//     handle(frame.payload);
//   }
#pragma once

#include <howdy/detail/readable_now.hpp>
#include <howdy/error.hpp>
#include <howdy/frame_codec.hpp>

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/awaitable.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <tuple>

namespace howdy {

struct reader_options {
  std::size_t max_frame_size = 64 * 1024;  // larger frames fail with error::frame_too_large
  std::size_t initial_buffer_size = 512;   // allocated at the first read; idle peers stay small
  std::size_t max_read_size = 64 * 1024;   // the buffer grows to this while reads keep filling it
};

template <class AsyncReadStream, frame_codec Codec>
class framed_reader {
 public:
  using executor_type = typename AsyncReadStream::executor_type;

  explicit framed_reader(AsyncReadStream& stream, Codec codec = Codec{}, reader_options options = {})
      : stream_(stream), codec_(std::move(codec)), options_(options) {}

  framed_reader(const framed_reader&) = delete;
  framed_reader& operator=(const framed_reader&) = delete;

  executor_type get_executor() noexcept { return stream_.get_executor(); }
  AsyncReadStream& stream() noexcept { return stream_; }
  Codec& codec() noexcept { return codec_; }
  const reader_options& options() const noexcept { return options_; }
  // Bytes received but not yet handed out as frames.
  std::size_t buffered_size() const noexcept { return end_ - begin_ - handed_; }
  std::size_t buffer_capacity() const noexcept { return capacity_; }

  // The next frame if it is already buffered, without any I/O. nullopt with no
  // error means more bytes must be read first (async_next does that).
  std::optional<frame> try_next(std::error_code& ec) {
    frame f;
    if (next_buffered(f, ec)) return f;
    return std::nullopt;
  }

  // Completes with the next frame: void(std::error_code, howdy::frame). The
  // frame's views stay valid until the next call on this reader. After an
  // error, every later call fails with the same error.
  template <class CompletionToken = asio::default_completion_token_t<executor_type>>
  auto async_next(CompletionToken&& token = asio::default_completion_token_t<executor_type>{}) {
    return asio::async_compose<CompletionToken, void(std::error_code, frame)>(
        next_op{*this}, token, stream_);
  }

  // The coroutine form: a frame already buffered is returned without
  // suspending, so a session handles all the frames of one read back to back
  // (their effects, such as broadcasts, then batch up) before it reads again.
  asio::awaitable<std::tuple<std::error_code, frame>> next() {
    std::error_code ec;
    frame f;
    if (next_buffered(f, ec) || ec) co_return std::tuple{ec, f};
    co_return co_await async_next(asio::experimental::as_tuple(asio::use_awaitable));
  }

 private:
  // True with `out` set when a frame is buffered; false otherwise (`ec` set on error).
  bool next_buffered(frame& out, std::error_code& ec) {
    begin_ += std::exchange(handed_, 0);
    if (begin_ == end_) begin_ = end_ = 0;
    ec = failed_;
    if (failed_) return false;

    const auto r = codec_.decode({buffer_.get() + begin_, end_ - begin_}, options_.max_frame_size);
    switch (r.status) {
      case decode_status::complete:
        return hand_out(r, out);
      case decode_status::ends_if_idle:
        if (eof_ || detail::readable_now(stream_) == 0) return hand_out(r, out);
        return false;
      case decode_status::need_more:
        if (eof_) ec = failed_ = begin_ == end_ ? error::end_of_stream : error::truncated_frame;
        return false;
      case decode_status::malformed:
        ec = failed_ = error::malformed_frame;
        return false;
      case decode_status::too_large:
        ec = failed_ = error::frame_too_large;
        return false;
    }
    return false;
  }

  bool hand_out(const decode_result& r, frame& out) {
    const std::byte* at = buffer_.get() + begin_;
    handed_ = r.frame_size;
    out = frame{{at, r.frame_size}, {at + r.payload_offset, r.payload_size}};
    return true;
  }

  // Free space after the buffered bytes: compacts, and grows while reads keep
  // filling the buffer or a frame is larger than it.
  asio::mutable_buffer prepare() {
    const std::size_t used = end_ - begin_;
    // One byte beyond the largest frame: room to see where a frame of exactly
    // the limit ends, when that is only known from the next byte (a framing
    // whose frames end where the next one starts).
    const std::size_t limit = std::max(options_.max_frame_size + 1, options_.max_read_size);
    if (!buffer_ || ((last_read_filled_ || used == capacity_) && capacity_ < limit)) {
      const std::size_t size =
          std::min(limit, std::max({options_.initial_buffer_size, capacity_ * 2, used + 1}));
      auto bigger = std::make_unique_for_overwrite<std::byte[]>(size);
      if (used) std::memcpy(bigger.get(), buffer_.get() + begin_, used);
      buffer_ = std::move(bigger);
      capacity_ = size;
      begin_ = 0;
      end_ = used;
    } else if (begin_ > 0 && capacity_ - end_ < capacity_ / 2) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, used);
      begin_ = 0;
      end_ = used;
    }
    return {buffer_.get() + end_, capacity_ - end_};
  }

  struct next_op {
    framed_reader& r;
    enum { starting, reading, ready } state = starting;
    std::error_code result_ec{};
    frame result{};

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::size_t n = 0) {
      switch (state) {
        case starting:
          if (r.next_buffered(result, result_ec) || result_ec) {
            // Already buffered: complete as if by post, never inside the initiating
            // call, on the handler's executor (by default the stream's).
            state = ready;
            asio::post(std::move(self));
            return;
          }
          break;
        case reading:
          if (ec == asio::error::eof) {
            r.eof_ = true;
          } else if (ec) {
            r.failed_ = ec;
          } else {
            r.last_read_filled_ = n == r.capacity_ - r.end_;
            r.end_ += n;
          }
          if (r.next_buffered(result, result_ec) || result_ec) return self.complete(result_ec, result);
          break;
        case ready:
          return self.complete(result_ec, result);
      }
      const auto space = r.prepare();
      if (space.size() == 0) {  // only a codec that never says too_large gets here: fail, never spin
        r.failed_ = result_ec = error::frame_too_large;
        state = ready;
        asio::post(std::move(self));
        return;
      }
      state = reading;
      r.stream_.async_read_some(space, std::move(self));
    }
  };

  AsyncReadStream& stream_;
  Codec codec_;
  reader_options options_;
  std::unique_ptr<std::byte[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;   // first byte not yet handed out
  std::size_t end_ = 0;     // end of the received bytes
  std::size_t handed_ = 0;  // size of the frame handed out last, released at the next call
  bool eof_ = false;
  bool last_read_filled_ = false;
  std::error_code failed_;
};

}  // namespace howdy
