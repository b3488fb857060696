// A subscriber's bounded queue of outgoing frames and the writer that drains
// it. Pushing never waits. The first push into an idle outbox schedules one
// flush on its executor; by the time it runs, every frame queued meanwhile
// (say, a burst of broadcasts) goes out in one gather write: one system call
// per subscriber per burst, not one per frame.
//
//
//   auto box = std::make_shared<howdy::outbox>(socket.get_executor());
//   box->async_run(socket, [](std::error_code ec) { ... });  // the writer
//   box->push(frame);                                         // from the socket's executor
//   box->post(frame);                                         // from anywhere
//   box->push_state(key, frame);                              // the latest state under `key`
//
// State frames (conflation, as in a "last value" queue): push_state(key, f)
// queues `f` as the latest state under `key` (say, a user list). The outbox
// keeps at most one unsent frame per key. If a frame of `key` is queued and
// not yet taken into a write, `f` replaces it in place: it goes out at that
// frame's position among the others (the position of the oldest unsent state
// of `key`), and queued_bytes() changes by the difference in size. Otherwise
// (none queued, or the last one is already being written) `f` is queued at
// the end like push(). Ordinary frames are never dropped or reordered by
// this, and states of different keys never replace each other. So a fast
// reader gets every state, and a slow one the latest as fast as it reads,
// never a backlog. A state is otherwise a frame like any other: held by
// hold(), counted by the limits, dropped by drop_oldest.
//
// Write boundaries: push(frame, write_boundary::after) makes that frame the
// last of its gather write; what is queued after it goes in a later write
// system call (for peers that read one message per recv()).
//
// In a coroutine, `co_await box->run(socket)` is the same writer, and
// run_duplex() runs it beside the connection's reader.
#pragma once

#include <howdy/detail/outbox_sink.hpp>
#include <howdy/detail/ring.hpp>
#include <howdy/error.hpp>
#include <howdy/shared_buffer.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/basic_waitable_timer.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/compose.hpp>
#include <asio/dispatch.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

namespace howdy {

// Names a state frame's kind for push_state(): chosen by the application.
using state_key = std::uint32_t;

// Where a gather write may end; see push(frame, write_boundary).
enum class write_boundary {
  none,   // the frame may share its write with the frames queued after it
  after,  // the frame ends its write: what follows goes in a later one
};

enum class overflow_policy {
  disconnect,   // cut the subscriber off: run() ends with error::slow_consumer
  drop_oldest,  // drop the oldest queued frames and tell the subscriber how many
};

// The most frames an outbox gathers into one write (IOV_MAX on Linux).
inline constexpr std::size_t max_gather_buffers = detail::max_iov;

struct outbox_options {
  // Queued bytes before the overflow policy applies (drop_oldest: frames
  // already being written cannot be dropped and may come on top of it).
  std::size_t max_bytes = 4 * 1024 * 1024;
  overflow_policy policy = overflow_policy::disconnect;
  std::size_t max_batch = max_gather_buffers;  // frames in one gather write
  // drop_oldest: makes the frame that tells the subscriber how many frames
  // were dropped; it is sent ahead of what is queued after the drop.
  std::function<shared_buffer(std::uint64_t dropped)> drop_notice;
};

// Create it with std::make_shared: scheduled writes and a running writer keep
// it alive. `Executor` is the executor of the stream it writes to; push(),
// hold(), release(), close() and fail() are called on it.
template <class Executor = asio::any_io_executor>
class basic_outbox : public std::enable_shared_from_this<basic_outbox<Executor>> {
  using timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                                           Executor>;

 public:
  using executor_type = Executor;

  template <class OtherExecutor>
  struct rebind_executor {
    using other = basic_outbox<OtherExecutor>;
  };

  explicit basic_outbox(executor_type ex, outbox_options options = {})
      : ex_(std::move(ex)), options_(std::move(options)), done_(ex_) {
    options_.max_batch = std::clamp<std::size_t>(options_.max_batch, 1, max_gather_buffers);
    done_.expires_at(timer::time_point::max());
  }

  basic_outbox(const basic_outbox&) = delete;
  basic_outbox& operator=(const basic_outbox&) = delete;

  const executor_type& get_executor() const noexcept { return ex_; }

  // Queues a frame. Call on the outbox's executor. Never waits; returns false
  // when the outbox is closed or has failed (the frame is not sent).
  bool push(shared_buffer frame) {
    if (closed_ || !enqueue(std::move(frame))) return false;
    if (held_) ++held_count_;
    schedule_flush();
    return true;
  }

  // push(), and with write_boundary::after the frame is the last one of the
  // gather write that carries it.
  bool push(shared_buffer frame, write_boundary boundary) {
    if (!push(std::move(frame))) return false;
    if (boundary == write_boundary::after) boundaries_.push_back(position_of(queue_.size() - 1));
    return true;
  }

  // Queues `frame` as the latest state under `key` (see the top of this
  // file): it replaces, in place, the frame of that key still queued and not
  // yet being written, or else is queued at the end like push(). The limits
  // apply to the bytes it adds: a replacement that would pass max_bytes fails
  // the outbox under overflow_policy::disconnect; under drop_oldest the older
  // state goes and `frame` is queued at the end, the policy making room for it.
  // Call on the outbox's executor; false when closed or failed, like push().
  // O(keys in use); no allocation once each key has been pushed once.
  bool push_state(state_key key, shared_buffer frame) {
    if (closed_ || error_) return false;
    if (const auto* mark = state_of(key)) {
      const std::size_t i = index_of(mark->position);
      if (i >= in_flight_ && i < queue_.size()) return replace(key, i, std::move(frame));
    }
    if (!push(std::move(frame))) return false;
    mark_state(key, position_of(queue_.size() - 1));
    return true;
  }

  // Frames pushed from now on are queued (within the limits, as usual) but not
  // written until release(); those pushed before still go out. Say, while a
  // session fetches stored history that must reach its client before live
  // frames that arrive meanwhile. Holding twice is holding once. Call on the
  // outbox's executor.
  void hold() {
    if (error_ || finished_) return;
    held_ = true;
  }

  // Queues `ahead` before every frame pushed since hold(), then writes again.
  // The limits apply to `ahead` as to any push; `ahead` is queued even after
  // close() (the frames it goes before were accepted), not after a failure.
  // Without hold() it queues `ahead` like push(). Call on the outbox's executor.
  void release(std::vector<shared_buffer> ahead = {}) {
    if (error_ || finished_) return;
    held_ = false;
    if (!ahead.empty()) {
      // The ring cannot insert in the middle: take the held frames off its end
      // and queue them again after `ahead`, so the policy sees the new order.
      std::vector<shared_buffer> held;
      held.reserve(held_count_);
      const std::uint64_t first_held = position_of(queue_.size() - held_count_);
      for (std::size_t i = queue_.size() - held_count_; i < queue_.size(); ++i) {
        queued_bytes_ -= queue_[i].size();
        held.push_back(std::move(queue_[i]));
      }
      queue_.truncate(queue_.size() - held_count_);
      held_count_ = 0;
      // The held frames move back by what goes ahead: so do the marks on them,
      // before `ahead` takes their positions (drops while queueing it forget
      // the marks of the frames they drop; front + size stays put meanwhile,
      // so the held frames come back exactly ahead.size() positions later).
      const std::uint64_t moved = ahead.size();
      auto shift = [&](std::uint64_t& p) {
        if (p - first_held < held.size()) p += moved;
      };
      for (auto& s : states_) shift(s.position);
      for (auto& b : boundaries_) shift(b);
      for (auto& f : ahead)
        if (!enqueue(std::move(f))) return;
      for (auto& f : held)
        if (!enqueue(std::move(f))) return;
    }
    held_count_ = 0;
    if (closed_ && queue_.empty() && !writing_) return finish();
    schedule_flush();
  }

  bool held() const noexcept { return held_; }

  // Queues a frame from any thread.
  void post(shared_buffer frame) {
    asio::post(ex_, [self = this->shared_from_this(), f = std::move(frame)]() mutable { self->push(std::move(f)); });
  }

  // push_state() from any thread.
  void post_state(state_key key, shared_buffer frame) {
    asio::post(ex_, [self = this->shared_from_this(), key, f = std::move(frame)]() mutable {
      self->push_state(key, std::move(f));
    });
  }

  // Accepts nothing more; run() ends once what is queued has been written, or
  // fails with error::shutting_down if that takes longer than `grace`. While
  // held, that includes waiting for release() (held frames are not dropped).
  void close(std::chrono::steady_clock::duration grace = std::chrono::seconds(5)) {
    if (closed_) return;
    closed_ = true;
    if (error_) return;
    if (queue_.empty() && !writing_ && !held_) return finish();
    grace_.emplace(ex_);
    grace_->expires_after(grace);
    grace_->async_wait([weak = this->weak_from_this()](std::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->fail(error::shutting_down);
    });
  }

  // Stops now: drops what is queued and ends run() with `why`. The stream is
  // closed too: a writer stuck on a full socket must not wait for the peer.
  void fail(std::error_code why) {
    if (error_) return;
    stop(why);
    if (sink_) sink_->close();
    finish();
  }

  // The writer: sends queued frames until close() has flushed them (completes
  // with no error) or the outbox fails (completes with why: error::slow_consumer,
  // error::shutting_down, a stream error...). Signature void(std::error_code).
  // The handler runs on its associated executor, by default the outbox's.
  // Terminal cancellation fails the outbox with asio::error::operation_aborted
  // (the stream is left open). Once the operation completes (or is destroyed
  // unfinished), nothing touches `stream` again, even a write still pending on
  // it: `stream` need only outlive the operation. One writer at a time.
  template <class Stream, class RunToken = asio::default_completion_token_t<executor_type>>
  auto async_run(Stream& stream, RunToken&& token = asio::default_completion_token_t<executor_type>{}) {
    return asio::async_compose<RunToken, void(std::error_code)>(run_op<Stream>{this->shared_from_this(), &stream},
                                                                token, done_);
  }

  // async_run() for coroutines: returns why the writer stopped (empty after a clean flush).
  template <class Stream>
  asio::awaitable<std::error_code> run(Stream& stream) {
    auto [ec] = co_await async_run(stream, asio::experimental::as_tuple(asio::use_awaitable));
    co_return ec;
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
  struct state_mark {
    state_key key;
    std::uint64_t position;  // of the last frame queued under `key` (maybe sent since)
  };

  const state_mark* state_of(state_key key) const noexcept {
    for (const auto& m : states_)
      if (m.key == key) return &m;
    return nullptr;
  }
  void mark_state(state_key key, std::uint64_t position) {
    for (auto& m : states_)
      if (m.key == key) {
        m.position = position;
        return;
      }
    states_.push_back({key, position});
  }

  // async_run(): attaches the stream, then waits on done_ until the outbox
  // finishes. Its own steps run on the outbox's executor; the handler on its own.
  template <class Stream>
  struct run_op {
    std::shared_ptr<basic_outbox> box;
    Stream* stream;
    enum { starting, attaching, waiting, completing } step = starting;
    std::error_code result;

    run_op(std::shared_ptr<basic_outbox> b, Stream* s) : box(std::move(b)), stream(s) {}
    run_op(run_op&&) noexcept = default;
    // Destroyed while attached (its io_context went): the stream may go too.
    ~run_op() {
      if (box && step == waiting) box->detach();
    }

    template <class Self>
    void operator()(Self& self, std::error_code = {}) {
      switch (step) {
        case starting:
          step = attaching;
          // Posted, not dispatched: the handler never runs inside async_run().
          return asio::post(asio::bind_executor(box->ex_, std::move(self)));
        case attaching:
          step = waiting;
          box->attach(*stream);
          if (!box->finished_) return box->done_.async_wait(asio::bind_executor(box->ex_, std::move(self)));
          break;
        case waiting:  // done_ fired: the outbox finished, or this operation was cancelled
          if (!box->finished_) {
            box->stop(asio::error::operation_aborted);
            box->finish();
          }
          break;
        case completing:
          return self.complete(result);
      }
      step = completing;
      result = box->error_;
      box->detach();
      asio::dispatch(std::move(self));  // to the handler's executor
    }
  };

  template <class Stream>
  void attach(Stream& stream) {
    sink_ = std::make_unique<detail::stream_sink<Stream, Executor>>(stream, ex_);
    if (closed_ && queue_.empty() && !held_) finish();
    schedule_flush();
  }

  // The writer ends: nothing touches the stream after this. A write or wait
  // still pending on it finds no sink when it completes, and stops there.
  void detach() noexcept {
    finished_ = true;
    sink_.reset();
  }

  // Fails without touching the stream: drops what is queued and records `why`.
  void stop(std::error_code why) {
    error_ = why;
    for (std::size_t i = in_flight_; i < queue_.size(); ++i) queued_bytes_ -= queue_[i].size();
    queue_.truncate(in_flight_);  // frames being written stay until the write completes
    held_ = false;
    held_count_ = 0;
  }

  // Queues a frame at the end, applying the overflow policy; false if it failed.
  bool enqueue(shared_buffer frame) {
    if (error_) return false;
    if (queued_bytes_ + frame.size() > options_.max_bytes && !make_room(frame.size())) return false;
    queued_bytes_ += frame.size();
    queue_.push_back(std::move(frame));
    return true;
  }

  // Frames that may be written now: all but those held.
  std::size_t writable() const noexcept { return queue_.size() - held_count_; }

  void schedule_flush() {
    if (flush_scheduled_ || writing_ || !sink_ || finished_ || writable() == 0) return;
    flush_scheduled_ = true;
    asio::post(ex_, [self = this->shared_from_this()] {
      self->flush_scheduled_ = false;
      self->flush();
    });
  }

  // Writes batches until the queue is empty or the stream would block.
  void flush() {
    while (!error_ && !writing_ && !finished_) {
      if (in_flight_ == 0 && !start_batch()) {
        if (closed_ && queue_.empty() && !held_) finish();
        return;
      }
      std::error_code ec;
      const std::size_t n = sink_->write_now({iov_.data() + iov_next_, iov_.size() - iov_next_}, ec);
      ++writes_;
      if (ec) return fail(ec);
      if (!consume(n)) {
        // Would block, or wrote part of the batch: continue when the stream is ready.
        writing_ = true;
        sink_->async_write({iov_.data() + iov_next_, iov_.size() - iov_next_},
                           [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
                             self->writing_ = false;
                             // Failed, or detached: the stream may be gone.
                             if (self->error_ || !self->sink_) return self->release_batch();
                             if (ec) return self->fail(ec);
                             self->consume(n);
                             self->flush();
                           });
        return;
      }
    }
  }

  // Takes up to max_batch queued frames (not held ones) as the batch to write; false if none.
  bool start_batch() {
    if (queue_.empty()) {
      // An idle peer keeps little of what its last burst needed.
      if (iov_.capacity() > 64) std::vector<::iovec>().swap(iov_);
      queue_.trim(64);
      return false;
    }
    if (writable() == 0) return false;
    if (dropped_unreported_ > 0 && options_.drop_notice) {
      auto notice = options_.drop_notice(std::exchange(dropped_unreported_, 0));
      queued_bytes_ += notice.size();
      queue_.push_back(std::move(notice));
      for (std::size_t i = queue_.size() - 1; i > 0; --i) std::swap(queue_[i], queue_[i - 1]);
      --front_position_;  // the notice goes before the head: every frame keeps its position
    }
    in_flight_ = std::min(writable(), options_.max_batch);
    // A write boundary ends the batch at its frame; boundaries on frames
    // dropped meanwhile are forgotten.
    while (!boundaries_.empty()) {
      const auto i = index_of(boundaries_.front());
      if (i < queue_.size() && i < in_flight_) {
        in_flight_ = i + 1;
        boundaries_.erase(boundaries_.begin());
        break;
      }
      if (i < queue_.size()) break;
      boundaries_.erase(boundaries_.begin());
    }
    iov_.resize(in_flight_);
    for (std::size_t i = 0; i < in_flight_; ++i)
      iov_[i] = {const_cast<std::byte*>(queue_[i].data()), queue_[i].size()};
    iov_next_ = 0;
    return true;
  }

  // Accounts for `n` bytes written; true when the whole batch is out (and released).
  bool consume(std::size_t n) {
    while (n > 0 && iov_next_ < iov_.size()) {
      auto& v = iov_[iov_next_];
      const std::size_t used = std::min(n, v.iov_len);
      v.iov_base = static_cast<char*>(v.iov_base) + used;
      v.iov_len -= used;
      n -= used;
      if (v.iov_len == 0) ++iov_next_;
    }
    while (iov_next_ < iov_.size() && iov_[iov_next_].iov_len == 0) ++iov_next_;
    if (iov_next_ < iov_.size()) return false;
    release_batch();
    return true;
  }

  void release_batch() {
    for (; in_flight_ > 0; --in_flight_) {
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
      ++front_position_;
    }
  }

  // Frames have positions: the number of frames queued before them since the
  // outbox began (counting ones popped), so a position stays put while the
  // ring's head moves. Positions of frames already written or dropped map to
  // an index >= queue_.size() (unsigned arithmetic wraps), i.e. "gone".
  std::uint64_t position_of(std::size_t index) const noexcept { return front_position_ + index; }
  std::size_t index_of(std::uint64_t position) const noexcept {
    const std::uint64_t i = position - front_position_;
    return i < queue_.size() ? static_cast<std::size_t>(i) : queue_.size();
  }

  // Replaces the unsent frame at `index` by a newer state of its key.
  bool replace(state_key key, std::size_t index, shared_buffer frame) {
    const std::size_t old_size = queue_[index].size();
    if (queued_bytes_ - old_size + frame.size() <= options_.max_bytes) {
      queued_bytes_ = queued_bytes_ - old_size + frame.size();
      queue_[index] = std::move(frame);
      return true;
    }
    if (options_.policy == overflow_policy::disconnect || frame.size() > options_.max_bytes) {
      fail(error::slow_consumer);
      return false;
    }
    // drop_oldest: the older state goes (superseded, not counted as dropped),
    // and the newer one is queued at the end like any frame, the policy
    // making room for it. The frames after the old one move up a position.
    const std::uint64_t removed = position_of(index);
    if (index >= queue_.size() - held_count_) --held_count_;
    queued_bytes_ -= old_size;
    queue_.erase_at(index);
    std::erase(boundaries_, removed);
    const std::uint64_t end = position_of(queue_.size()) + 1;  // before the erase
    auto close_gap = [&](std::uint64_t& p) {
      if (p > removed && p < end) --p;
    };
    for (auto& m : states_) close_gap(m.position);
    for (auto& b : boundaries_) close_gap(b);
    if (!push(std::move(frame))) return false;
    mark_state(key, position_of(queue_.size() - 1));
    return true;
  }

  // Forgets the state marks and write boundaries of the `count` frames from
  // `first` on, about to be dropped: a later state of their key is queued at
  // the end, and no boundary lingers on a position that another frame takes.
  void forget(std::uint64_t first, std::size_t count) {
    auto dropped = [&](std::uint64_t p) { return p - first < count; };
    std::erase_if(states_, [&](const state_mark& m) { return dropped(m.position); });
    std::erase_if(boundaries_, dropped);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    done_.cancel();
    if (grace_) grace_->cancel();
  }

  // Applies the overflow policy; true when `incoming` bytes may be queued.
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
    // Held frames are the newest: they go only once every older one has.
    const std::size_t older = queue_.size() - held_count_ - in_flight_;
    if (drop > older) held_count_ -= drop - older;
    forget(position_of(in_flight_), drop);
    queue_.erase(in_flight_, drop);
    // The frames in flight moved back into the freed slots: the head's
    // position grew by `drop`, and the frames after the dropped ones keep theirs.
    front_position_ += drop;
    queued_bytes_ -= freed;
    dropped_total_ += drop;
    dropped_unreported_ += drop;
    return true;
  }

  executor_type ex_;
  outbox_options options_;
  timer done_;                  // async_run() waits on it until the outbox finishes
  std::optional<timer> grace_;  // close(): how long flushing may take
  std::unique_ptr<detail::outbox_sink> sink_;
  detail::ring<shared_buffer> queue_;
  std::vector<::iovec> iov_;  // the batch being written
  std::size_t iov_next_ = 0;
  std::size_t queued_bytes_ = 0;
  std::size_t in_flight_ = 0;   // frames at the head of queue_ in the batch
  std::size_t held_count_ = 0;  // frames at the tail of queue_ pushed since hold()
  std::uint64_t front_position_ = 0;  // the position of queue_'s head (see position_of)
  std::vector<state_mark> states_;         // one per key in use (a few)
  std::vector<std::uint64_t> boundaries_;  // positions of frames that end their write, oldest first
  std::uint64_t dropped_total_ = 0;
  std::uint64_t dropped_unreported_ = 0;
  std::uint64_t writes_ = 0;
  bool flush_scheduled_ = false;
  bool writing_ = false;  // an asynchronous write or wait is pending
  bool closed_ = false;
  bool finished_ = false;
  bool held_ = false;
  std::error_code error_;
};
using outbox = basic_outbox<>;

namespace detail {

template <class T>
inline constexpr bool is_awaitable = false;
template <class T, class E>
inline constexpr bool is_awaitable<asio::awaitable<T, E>> = true;

template <class Reader, class Executor>
asio::awaitable<void> read_then_close(Reader reader, basic_outbox<Executor>& box,
                                      std::chrono::steady_clock::duration grace) {
  if constexpr (is_awaitable<Reader>)
    co_await std::move(reader);
  else
    co_await std::move(reader)(asio::use_awaitable);  // an error completes it as an exception
  box.close(grace);
}

// The reader failing stops the writer; the writer failing closes the stream,
// which ends the reader by itself (it is not cancelled mid-work).
struct cancel_writer_if_reader_throws {
  asio::cancellation_type_t operator()(const std::exception_ptr& e) const noexcept {
    return e ? asio::cancellation_type::all : asio::cancellation_type::none;
  }
  asio::cancellation_type_t operator()(const std::error_code&) const noexcept { return asio::cancellation_type::none; }
};

template <class Stream, class Executor, class Reader>
struct duplex_op {
  Stream& stream;
  basic_outbox<Executor>& box;
  Reader reader;
  std::chrono::steady_clock::duration grace;

  template <class Self>
  void operator()(Self& self) {
    asio::experimental::make_parallel_group(
        asio::co_spawn(box.get_executor(), read_then_close(std::move(reader), box, grace), asio::experimental::deferred),
        box.async_run(stream, asio::experimental::deferred))
        .async_wait(cancel_writer_if_reader_throws{}, std::move(self));
  }
  template <class Self>
  void operator()(Self& self, std::array<std::size_t, 2>, std::exception_ptr e, std::error_code ec) {
    self.complete(std::move(e), ec);
  }
};

}  // namespace detail

// Runs a connection's reader beside the outbox's writer until both end. When
// the reader ends, the outbox is closed (what is queued is flushed for at most
// `grace`); when the writer fails, the outbox closes the stream, which ends the
// reader; when the reader throws, the writer is stopped. `reader` is an
// asio::awaitable<void> or a deferred asynchronous operation (asio::experimental::deferred;
// its error counts as thrown). Signature void(std::exception_ptr, std::error_code):
// what the reader threw, and why the writer stopped (empty after a clean flush).
// Terminal cancellation cancels both. The handler runs on its associated
// executor, by default the outbox's, which also runs the reader.
template <class Stream, class Executor, class Reader,
          asio::completion_token_for<void(std::exception_ptr, std::error_code)> DuplexToken>
auto async_run_duplex(Stream& stream, basic_outbox<Executor>& box, Reader reader,
                      std::chrono::steady_clock::duration grace, DuplexToken&& token) {
  return asio::async_compose<DuplexToken, void(std::exception_ptr, std::error_code)>(
      detail::duplex_op<Stream, Executor, Reader>{stream, box, std::move(reader), grace}, token, box.get_executor());
}

template <class Stream, class Executor, class Reader,
          asio::completion_token_for<void(std::exception_ptr, std::error_code)> DuplexToken>
auto async_run_duplex(Stream& stream, basic_outbox<Executor>& box, Reader reader, DuplexToken&& token) {
  return async_run_duplex(stream, box, std::move(reader), std::chrono::seconds(5),
                          std::forward<DuplexToken>(token));
}

// async_run_duplex() for coroutines: rethrows what the reader threw, returns
// why the writer stopped (empty after a clean flush).
template <class Stream, class Executor>
asio::awaitable<std::error_code> run_duplex(Stream& stream, basic_outbox<Executor>& box, asio::awaitable<void> reader,
                                            std::chrono::steady_clock::duration grace = std::chrono::seconds(5)) {
  co_return co_await async_run_duplex(stream, box, std::move(reader), grace, asio::use_awaitable);
}

}  // namespace howdy
