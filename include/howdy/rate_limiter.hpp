// Token buckets: one (token_bucket, for a single sender, say one connection's
// messages) or one per key (rate_limiter: a user name, an address), for limits
// such as "5 login attempts, then one per 12 s". A key that is not tracked has
// a full bucket, so full buckets are forgotten: memory follows the keys that
// are actually being limited, and max_keys bounds it even under a flood of
// distinct keys.
#pragma once

#include <howdy/detail/string_hash.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace howdy {

struct rate_limit {
  double burst = 5;  // tokens in a full bucket: acquisitions allowed at once
  std::chrono::steady_clock::duration refill_every = std::chrono::seconds(12);  // one token back per this
};

// One bucket of `limit.burst` tokens, one back per `limit.refill_every` (a
// refill_every of zero or less: no limit on the rate). Not thread-safe: for
// state that one executor owns, such as a connection's. `now` is there for
// tests; times that go backwards refill nothing.
class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  explicit token_bucket(rate_limit limit, clock::time_point now = clock::now())
      : limit_(limit), tokens_(limit.burst), updated_(now) {}

  // Takes a token if there is one.
  bool try_take(clock::time_point now = clock::now()) {
    refill(now);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  // The tokens there are at `now` (at most the burst).
  double tokens(clock::time_point now = clock::now()) {
    refill(now);
    return tokens_;
  }

  // `tokens` refilled over `elapsed` under `limit`, at most its burst.
  static double refilled(const rate_limit& limit, double tokens, clock::duration elapsed) {
    if (limit.refill_every <= clock::duration::zero()) return limit.burst;  // no limit on the rate
    if (elapsed <= clock::duration::zero()) return std::min(limit.burst, tokens);
    return std::min(limit.burst, tokens + std::chrono::duration<double>(elapsed) /
                                              std::chrono::duration<double>(limit.refill_every));
  }

 private:
  void refill(clock::time_point now) {
    if (limit_.refill_every <= clock::duration::zero()) tokens_ = limit_.burst;  // no limit on the rate
    if (now <= updated_) return;
    tokens_ = refilled(limit_, tokens_, now - updated_);
    updated_ = now;
  }

  rate_limit limit_;
  double tokens_;
  clock::time_point updated_;
};

class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  explicit rate_limiter(rate_limit limit, std::size_t max_keys = 100000)
      : limit_(limit), max_keys_(std::max<std::size_t>(max_keys, 1)) {}

  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;

  // Takes one token from `key`'s bucket if it has one. Thread-safe. `now` is
  // there for tests; times that go backwards refill nothing.
  bool try_acquire(std::string_view key, clock::time_point now = clock::now()) {
    std::lock_guard lock(mutex_);
    forget_full(now);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
      if (limit_.burst < 1) return false;
      if (buckets_.size() >= max_keys_) evict_fullest();
      it = buckets_.emplace(std::string(key), bucket{limit_.burst, now, now}).first;
      take(*it, now);
      return true;
    }
    bucket& b = it->second;
    const double refilled = token_bucket::refilled(limit_, b.tokens, now - b.updated);
    if (refilled < 1) return false;
    by_full_at_.erase({b.full_at, &it->first});
    b.tokens = refilled;
    b.updated = std::max(b.updated, now);
    take(*it, now);
    return true;
  }

  // Keys tracked: those whose buckets are not known to be full again.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
  }

 private:
  struct bucket {
    double tokens;
    clock::time_point updated;  // when `tokens` was right
    clock::time_point full_at;  // when the bucket is full again, if untouched
  };

  using map = std::unordered_map<std::string, bucket, detail::string_hash, std::equal_to<>>;

  // Soonest full first; the key's address only breaks ties.
  struct by_full_at {
    using entry = std::pair<clock::time_point, const std::string*>;
    bool operator()(const entry& a, const entry& b) const noexcept {
      if (a.first != b.first) return a.first < b.first;
      return std::less<const std::string*>{}(a.second, b.second);
    }
  };

  // Spends a token of the (refilled) bucket and files it by when it is full again.
  void take(map::value_type& kv, clock::time_point now) {
    bucket& b = kv.second;
    b.tokens -= 1;
    b.updated = std::max(b.updated, now);
    const auto refill = std::max(limit_.refill_every, clock::duration::zero());
    // Rounded up: a bucket is never forgotten before it is really full.
    b.full_at = b.updated + std::chrono::ceil<clock::duration>(std::chrono::duration<double, clock::period>(
                                refill.count() * (limit_.burst - b.tokens)));
    by_full_at_.emplace(b.full_at, &kv.first);
  }

  void forget_full(clock::time_point now) {
    while (!by_full_at_.empty() && by_full_at_.begin()->first <= now) erase_first();
  }

  // The bucket closest to full is the one whose loss gives its key the fewest tokens back.
  void evict_fullest() { erase_first(); }

  void erase_first() {
    const std::string* key = by_full_at_.begin()->second;
    by_full_at_.erase(by_full_at_.begin());
    buckets_.erase(buckets_.find(std::string_view(*key)));
  }

  rate_limit limit_;
  std::size_t max_keys_;
  mutable std::mutex mutex_;
  map buckets_;
  std::set<by_full_at::entry, by_full_at> by_full_at_;  // every bucket, by the keys of buckets_ (nodes are stable)
};

}  // namespace howdy
