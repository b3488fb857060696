// A subscriber's bounded queue of outgoing frames, drained by one writer
// coroutine. Pushing never waits; the writer sends everything queued in one
// gather write, so a burst costs one system call, not one per frame.
//
//   auto box = std::make_shared<howdy::outbox>(socket.get_executor());
//   asio::co_spawn(ex, box->run(socket), ...);   // the writer
//   box->push(frame);                             // from the socket's executor
//   box->post(frame);                             // from anywhere
#pragma once

#include <howdy/detail/gather_write.hpp>
#include <howdy/detail/ring.hpp>
#include <howdy/error.hpp>
#include <howdy/shared_buffer.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace howdy {

enum class overflow_policy {
  disconnect,   // cut the subscriber off: run() ends with error::slow_consumer
  drop_oldest,  // drop the oldest queued frames and tell the subscriber how many
};

struct outbox_options {
  // Queued bytes before the overflow policy applies (drop_oldest: frames
  // already being written cannot be dropped and may come on top of it).
  std::size_t max_bytes = 4 * 1024 * 1024;
  overflow_policy policy = overflow_policy::disconnect;
  std::size_t max_batch = detail::max_iov;  // frames in one gather write
  // drop_oldest: makes the frame that tells the subscriber how many frames
  // were dropped; it is sent ahead of what is queued after the drop.
  std::function<shared_buffer(std::uint64_t dropped)> drop_notice;
};

class outbox : public std::enable_shared_from_this<outbox> {
 public:
  using executor_type = asio::any_io_executor;

  explicit outbox(executor_type ex, outbox_options options = {})
      : ex_(std::move(ex)), options_(std::move(options)), wake_(ex_) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }

  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  const executor_type& get_executor() const noexcept { return ex_; }

  // Queues a frame. Call on the outbox's executor. Never waits; returns false
  // when the outbox is closed or has failed (the frame is not sent).
  bool push(shared_buffer frame) {
    if (closed_ || error_) return false;
    if (queued_bytes_ + frame.size() > options_.max_bytes && !make_room(frame.size())) return false;
    queued_bytes_ += frame.size();
    queue_.push_back(std::move(frame));
    if (waiting_) wake_.cancel();
    return true;
  }

  // Queues a frame from any thread.
  void post(shared_buffer frame) {
    asio::post(ex_, [self = shared_from_this(), f = std::move(frame)]() mutable { self->push(std::move(f)); });
  }

  // Accepts nothing more; run() ends once what is queued has been written, or
  // fails with error::shutting_down if that takes longer than `grace`.
  void close(std::chrono::steady_clock::duration grace = std::chrono::seconds(5)) {
    if (closed_) return;
    closed_ = true;
    if (error_) return;  // already stopped: nothing to flush, no grace timer to keep the executor busy
    if (waiting_) {
      wake_.cancel();
      return;
    }
    wake_.expires_after(grace);
    wake_.async_wait([weak = weak_from_this()](std::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->fail(error::shutting_down);
    });
  }

  // Stops now: drops what is queued and ends run() with `why`.
  void fail(std::error_code why) {
    if (error_) return;
    error_ = why;
    queue_.truncate(in_flight_);
    if (waiting_) wake_.cancel();
    if (abort_write_) abort_write_();  // a writer stuck on a full socket must not wait for the peer
  }

  // The writer: sends queued frames until close() has flushed them (returns no
  // error) or the outbox fails (returns why: error::slow_consumer, a socket error...).
  template <class Stream>
  asio::awaitable<std::error_code> run(Stream& stream) {
    if constexpr (requires(std::error_code& ec) { stream.close(ec); }) {
      abort_write_ = [&stream] {
        std::error_code ignored;
        stream.close(ignored);
      };
    }
    struct reset_on_exit {
      outbox& self;
      ~reset_on_exit() {
        self.abort_write_ = nullptr;
        self.wake_.cancel();
      }
    } guard{*this};

    for (;;) {
      if (error_) co_return error_;
      if (queue_.empty()) {
        if (closed_) co_return std::error_code{};
        // An idle peer keeps little of what its last burst needed.
        if (iov_.capacity() > 64) std::vector<::iovec>().swap(iov_);
        queue_.trim(64);
        waiting_ = true;
        co_await wake_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        waiting_ = false;
        continue;
      }
      if (dropped_unreported_ > 0 && options_.drop_notice) {
        auto notice = options_.drop_notice(std::exchange(dropped_unreported_, 0));
        queued_bytes_ += notice.size();
        queue_.push_back(std::move(notice));
        for (std::size_t i = queue_.size() - 1; i > 0; --i) std::swap(queue_[i], queue_[i - 1]);
      }

      in_flight_ = std::min(queue_.size(), options_.max_batch);
      iov_.resize(in_flight_);
      for (std::size_t i = 0; i < in_flight_; ++i)
        iov_[i] = {const_cast<std::byte*>(queue_[i].data()), queue_[i].size()};
      const auto result = co_await detail::async_gather_write(stream, iov_);
      writes_ += result.calls;
      for (; in_flight_ > 0; --in_flight_) {
        queued_bytes_ -= queue_.front().size();
        queue_.pop_front();
      }
      if (result.ec && !error_) fail(result.ec);
    }
  }

  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  std::size_t queued_frames() const noexcept { return queue_.size(); }
  std::uint64_t dropped_frames() const noexcept { return dropped_total_; }
  // Write system calls made so far (for sockets; write operations otherwise).
  std::uint64_t write_calls() const noexcept { return writes_; }
  bool closed() const noexcept { return closed_; }
  // Why the outbox stopped, if it failed.
  std::error_code error() const noexcept { return error_; }

 private:
  // Applies the overflow policy; true when `incoming` bytes now fit.
  bool make_room(std::size_t incoming) {
    if (options_.policy == overflow_policy::disconnect || incoming > options_.max_bytes) {
      fail(error::slow_consumer);
      return false;
    }
    std::size_t drop = 0;
    std::size_t freed = 0;
    while (queued_bytes_ - freed + incoming > options_.max_bytes && in_flight_ + drop < queue_.size())
      freed += queue_[in_flight_ + drop++].size();
    // If only frames in flight are left (a batch the writer is still sending),
    // they cannot be dropped: take the frame anyway. What waits behind the
    // batch stays within max_bytes, so memory stays under twice max_bytes.
    queue_.erase(in_flight_, drop);
    queued_bytes_ -= freed;
    dropped_total_ += drop;
    dropped_unreported_ += drop;
    return true;
  }

  executor_type ex_;
  outbox_options options_;
  asio::steady_timer wake_;  // the idle writer waits on it; also the close() grace timer
  detail::ring<shared_buffer> queue_;
  std::vector<::iovec> iov_;
  std::function<void()> abort_write_;
  std::size_t queued_bytes_ = 0;
  std::size_t in_flight_ = 0;  // frames at the head of queue_ being written
  std::uint64_t dropped_total_ = 0;
  std::uint64_t dropped_unreported_ = 0;
  std::uint64_t writes_ = 0;
  bool waiting_ = false;
  bool closed_ = false;
  std::error_code error_;
};

// Runs a connection's reader coroutine beside the outbox's writer until both
// end. When the reader returns, the outbox is closed (what is queued is flushed
// for at most `grace`); when the writer fails, the outbox closes the stream,
// which ends the reader. Returns why the writer stopped (empty after a clean flush).
template <class Stream>
asio::awaitable<std::error_code> run_duplex(Stream& stream, outbox& box, asio::awaitable<void> reader,
                                            std::chrono::steady_clock::duration grace = std::chrono::seconds(5)) {
  auto read_then_close = [](asio::awaitable<void> r, outbox& b, std::chrono::steady_clock::duration g)
      -> asio::awaitable<void> {
    co_await std::move(r);
    b.close(g);
  };
  using namespace asio::experimental::awaitable_operators;
  co_return co_await (read_then_close(std::move(reader), box, grace) && box.run(stream));
}

}  // namespace howdy
