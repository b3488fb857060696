// A deadline for a connection: calls its action (typically closing the socket)
// unless it is pushed back in time. Pushing it back is a store, not a timer
// operation, so it can be done for every frame.
//
// Not an asynchronous operation but an I/O object's helper: the action runs
// on the executor given, and the watchdog is used from there (like the
// socket it guards; it is not thread-safe). Destroying or disarming it means
// the action will not run; the pending timer wait holds the state weakly.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace howdy {

class watchdog {
 public:
  using clock = std::chrono::steady_clock;

  watchdog(asio::any_io_executor ex, std::function<void()> on_expiry)
      : state_(std::make_shared<state>(std::move(ex), std::move(on_expiry))) {}

  watchdog(watchdog&&) noexcept = default;
  watchdog& operator=(watchdog&&) noexcept = default;
  ~watchdog() {
    if (state_) disarm();
  }

  // Fires `timeout` from now unless pushed back again; zero disarms.
  void expires_after(clock::duration timeout) {
    if (timeout <= clock::duration::zero()) return disarm();
    const auto now = clock::now();
    // Saturated: "never" (duration::max()) must not overflow into the past.
    state_->deadline = timeout < clock::time_point::max() - now ? now + timeout : clock::time_point::max();
    if (!state_->armed) {
      state_->armed = true;
      wait(state_);
    } else if (state_->deadline < state_->timer.expiry()) {
      wait(state_);  // brought forward: the pending wake-up would come too late
    }
  }

  void disarm() {
    state_->deadline = clock::time_point::max();
    state_->armed = false;
    state_->timer.cancel();
  }

 private:
  struct state {
    state(asio::any_io_executor ex, std::function<void()> fn) : timer(std::move(ex)), on_expiry(std::move(fn)) {}
    asio::steady_timer timer;
    std::function<void()> on_expiry;
    clock::time_point deadline = clock::time_point::max();
    bool armed = false;
  };

  static void wait(const std::shared_ptr<state>& s) {
    s->timer.expires_at(s->deadline);
    s->timer.async_wait([weak = std::weak_ptr(s)](std::error_code ec) {
      auto s = weak.lock();
      if (!s || ec || !s->armed) return;
      if (clock::now() < s->deadline) return wait(s);  // pushed back meanwhile
      s->armed = false;
      s->on_expiry();
    });
  }

  std::shared_ptr<state> state_;
};

}  // namespace howdy
