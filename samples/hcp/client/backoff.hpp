// howdy-client: how long to wait before trying to reconnect. Exponential
// backoff with "equal jitter": the n-th wait is drawn from [d/2, d] with
// d = min(max, first * 2^n), so clients that lost the same server do not all
// come back at the same instant, and none waits longer than `max`.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace hcp::client {

class backoff {
 public:
  backoff(std::chrono::milliseconds first, std::chrono::milliseconds max)
      : first_(std::max(first, std::chrono::milliseconds(1))), max_(std::max(max, first_)),
        rng_(std::random_device{}()) {}

  std::chrono::milliseconds next() {
    auto d = first_;
    for (unsigned i = 0; i < attempt_ && d < max_; ++i) d *= 2;
    d = std::min(d, max_);
    ++attempt_;
    std::uniform_int_distribution<long long> pick(d.count() / 2, d.count());
    return std::chrono::milliseconds(pick(rng_));
  }

  // After a success: the next loss starts with a short wait again.
  void reset() noexcept { attempt_ = 0; }
  unsigned attempts() const noexcept { return attempt_; }

 private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds max_;
  unsigned attempt_ = 0;
  std::mt19937 rng_;
};

}  // namespace hcp::client
