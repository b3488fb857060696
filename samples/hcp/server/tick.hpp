// server/tick.hpp: events coalesced on a short tick. Any thread may add an
// event: it is appended to a pending list under a small lock of its own
// (nothing else happens under it) and, for the first event since the last
// flush, a flush is scheduled `tick` later. The flush gets every event added
// meanwhile, in the order they were added, on the batch's executor (one at a
// time).
// presence.hpp and rooms.hpp encode and publish from there, once per tick,
// instead of once per event. A tick of 0 flushes as soon as the
// executor gets to it: no waiting, only what arrived meanwhile is batched.
//
// The spacing may depend on the moment (say, on how many clients a flush
// reaches): `tick_for`, if given, is asked each time a flush is scheduled,
// and a flush comes at least that long after the previous one. So a lone
// event waits only `tick`, and a storm of them costs one flush per
// `tick_for()`.
//
// The quiet check: from a flush, check_quiet(after) asks for a call of
// `on_quiet` `after` from now unless an event has been added by then.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace hcp {

template <class Event>
class tick_batch {
 public:
  using flush_handler = std::function<void(std::vector<Event>&)>;
  using quiet_handler = std::function<void()>;
  using tick_function = std::function<std::chrono::milliseconds()>;

  tick_batch(asio::any_io_executor ex, std::chrono::milliseconds tick, flush_handler flush, quiet_handler quiet = {},
             tick_function tick_for = {})
      : state_(std::make_shared<state>(std::move(ex), tick, std::move(flush), std::move(quiet), std::move(tick_for))) {}

  tick_batch(const tick_batch&) = delete;
  tick_batch& operator=(const tick_batch&) = delete;
  ~tick_batch() { stop(); }

  // Any thread. Cheap: an append, and once per tick a post. After stop()
  // (which is not concurrent with it) nothing.
  void add(Event e) {
    if (!state_) return;
    bool arm = false;
    {
      std::lock_guard lock(state_->mutex);
      if (state_->stopped) return;
      state_->pending.push_back(std::move(e));
      arm = !std::exchange(state_->armed, true);
    }
    if (arm) asio::post(state_->ex, [s = state_] { s->arm(); });
  }

  // From a flush (on the executor): on_quiet runs `after` from now unless
  // an event is added before (a later call replaces an earlier one).
  void check_quiet(std::chrono::steady_clock::duration after) {
    if (state_) state_->arm_quiet(after);
  }

  // Once the executor's threads have stopped (or before it runs at all):
  // nothing is flushed any more, and the timers go with the last handler
  // that holds them (the io_context destroys those), not with this object.
  void stop() {
    if (!state_) return;
    {
      std::lock_guard lock(state_->mutex);
      state_->stopped = true;
      state_->pending.clear();
    }
    state_.reset();
  }

 private:
  struct state : std::enable_shared_from_this<state> {
    state(asio::any_io_executor e, std::chrono::milliseconds t, flush_handler f, quiet_handler q, tick_function tf)
        : ex(std::move(e)),
          tick(t),
          flush(std::move(f)),
          quiet(std::move(q)),
          tick_for(std::move(tf)),
          timer(ex),
          quiet_timer(ex) {}

    asio::any_io_executor ex;
    const std::chrono::milliseconds tick;
    flush_handler flush;
    quiet_handler quiet;
    tick_function tick_for;
    asio::steady_timer timer;        // on ex
    asio::steady_timer quiet_timer;  // on ex
    std::uint64_t flushes = 0;       // on ex
    std::chrono::steady_clock::time_point last_run{};  // on ex: the last flush
    std::mutex mutex;
    std::vector<Event> pending;  // guarded by mutex
    bool armed = false;          // guarded by mutex: a flush is scheduled
    bool stopped = false;        // guarded by mutex

    // `tick` after the first event, and at least the (longer) current tick
    // after the last flush.
    void arm() {
      const auto now = std::chrono::steady_clock::now();
      const auto delay = tick_for ? std::max(tick, tick_for()) : tick;
      // Before the first flush there is no spacing to keep (and a steady
      // clock may start near zero: a machine up for less than `delay`).
      const auto due = flushes == 0 ? now + tick : std::max(now + tick, last_run + delay);
      if (due <= now) return run();
      timer.expires_at(due);
      timer.async_wait([s = this->shared_from_this()](std::error_code ec) {
        if (!ec) s->run();
      });
    }

    void run() {
      std::vector<Event> events;
      {
        std::lock_guard lock(mutex);
        if (stopped) return;
        events.swap(pending);
        armed = false;
      }
      ++flushes;
      last_run = std::chrono::steady_clock::now();
      if (!events.empty()) flush(events);
    }

    void arm_quiet(std::chrono::steady_clock::duration after) {
      quiet_timer.expires_after(after);
      quiet_timer.async_wait([s = this->shared_from_this(), seen = flushes](std::error_code ec) {
        if (ec || s->flushes != seen) return;  // a flush since: it decides again
        {
          std::lock_guard lock(s->mutex);
          if (s->stopped || s->armed) return;  // events are on their way: their flush decides
        }
        if (s->quiet) s->quiet();
      });
    }
  };

  std::shared_ptr<state> state_;
};

}  // namespace hcp
