// rate_limiter: the burst, refilling with an injected clock (capped at the
// burst, never backwards), independent keys, forgetting full buckets, the
// max_keys bound (the fullest bucket goes first), odd limits, and threads.

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <howdy/rate_limiter.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = howdy::rate_limiter::clock;

// A fixed origin, so the tests never read the real clock.
const clock_type::time_point t0 = clock_type::time_point{} + 1000h;

int acquire_all(howdy::rate_limiter& r, std::string_view key, clock_type::time_point now) {
  int n = 0;
  while (n < 1000 && r.try_acquire(key, now)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rate_limiter)

BOOST_AUTO_TEST_CASE(burst_then_refused) {
  howdy::rate_limiter r({3, 10s});
  BOOST_TEST(r.try_acquire("alice", t0));
  BOOST_TEST(r.try_acquire("alice", t0));
  BOOST_TEST(r.try_acquire("alice", t0));
  BOOST_TEST(!r.try_acquire("alice", t0));
  BOOST_TEST(!r.try_acquire("alice", t0 + 9s));  // not a whole token yet
  BOOST_TEST(r.size() == 1u);
  // The defaults: 5 at once, then one per 12 s.
  howdy::rate_limiter d(howdy::rate_limit{});
  BOOST_TEST(acquire_all(d, "x", t0) == 5);
  BOOST_TEST(acquire_all(d, "x", t0 + 11s) == 0);
  BOOST_TEST(acquire_all(d, "x", t0 + 12s) == 1);
}

BOOST_AUTO_TEST_CASE(refills_at_the_rate_up_to_the_burst) {
  howdy::rate_limiter r({3, 10s});
  BOOST_TEST(acquire_all(r, "k", t0) == 3);
  BOOST_TEST(acquire_all(r, "k", t0 + 10s) == 1);
  // 25 s after that: 2.5 tokens, so two and half a token left over.
  BOOST_TEST(acquire_all(r, "k", t0 + 35s) == 2);
  BOOST_TEST(acquire_all(r, "k", t0 + 39s) == 0);
  BOOST_TEST(acquire_all(r, "k", t0 + 40s) == 1);  // the half, plus 5 s
  // A long wait fills the bucket, no more.
  BOOST_TEST(acquire_all(r, "k", t0 + 1h) == 3);
}

BOOST_AUTO_TEST_CASE(time_going_backwards_refills_nothing) {
  howdy::rate_limiter r({2, 10s});
  BOOST_TEST(acquire_all(r, "k", t0 + 100s) == 2);
  BOOST_TEST(acquire_all(r, "k", t0) == 0);
  BOOST_TEST(acquire_all(r, "k", t0 + 105s) == 0);  // counted from t0+100s, not from t0
  BOOST_TEST(acquire_all(r, "k", t0 + 110s) == 1);
}

BOOST_AUTO_TEST_CASE(keys_are_independent) {
  howdy::rate_limiter r({2, 10s});
  BOOST_TEST(acquire_all(r, "alice", t0) == 2);
  BOOST_TEST(acquire_all(r, "bob", t0) == 2);
  BOOST_TEST(acquire_all(r, "Alice", t0) == 2);  // keys compare exactly
  std::string key = "carol";
  BOOST_TEST(r.try_acquire(std::string_view(key), t0));
  key[0] = 'd';  // the limiter kept its own copy of "carol"
  BOOST_TEST(r.try_acquire("carol", t0));
  BOOST_TEST(!r.try_acquire("carol", t0));
  BOOST_TEST(acquire_all(r, key, t0) == 2);  // "darol"
  BOOST_TEST(r.size() == 5u);
}

BOOST_AUTO_TEST_CASE(full_buckets_are_forgotten) {
  howdy::rate_limiter r({3, 10s});
  BOOST_TEST(r.try_acquire("a", t0));        // full again at t0+10s
  BOOST_TEST(acquire_all(r, "b", t0) == 3);  // full again at t0+30s
  BOOST_TEST(r.size() == 2u);
  BOOST_TEST(r.try_acquire("c", t0 + 9s));
  BOOST_TEST(r.size() == 3u);
  BOOST_TEST(r.try_acquire("c", t0 + 10s));  // "a" is full by now
  BOOST_TEST(r.size() == 2u);
  BOOST_TEST(acquire_all(r, "a", t0 + 10s) == 3);  // forgetting it lost nothing: it was full
  BOOST_TEST(acquire_all(r, "b", t0 + 29s) == 2);  // "b" was kept, and refilled at the rate
}

BOOST_AUTO_TEST_CASE(max_keys_bounds_memory_and_evicts_the_fullest) {
  howdy::rate_limiter r({2, 10s}, 3);
  BOOST_TEST(acquire_all(r, "drained", t0) == 2);  // full again at t0+20s
  BOOST_TEST(r.try_acquire("y", t0));              // t0+10s
  BOOST_TEST(r.try_acquire("z", t0 + 1s));         // t0+11s
  BOOST_TEST(r.size() == 3u);
  // No bucket is full at t0+2s: the fullest ("y") makes room.
  BOOST_TEST(r.try_acquire("w", t0 + 2s));
  BOOST_TEST(r.size() == 3u);
  BOOST_TEST(!r.try_acquire("drained", t0 + 2s));  // the key being limited is still limited
  BOOST_TEST(r.try_acquire("z", t0 + 2s));         // still tracked: its second token
  BOOST_TEST(!r.try_acquire("z", t0 + 2s));
  // A flood of distinct keys never grows it past the bound.
  for (int i = 0; i < 1000; ++i) {
    BOOST_TEST_REQUIRE(r.try_acquire("flood" + std::to_string(i), t0 + 3s));
    BOOST_TEST_REQUIRE(r.size() <= 3u);
  }
  // Once they are full again they are all forgotten at the next call.
  BOOST_TEST(r.try_acquire("late", t0 + 1h));
  BOOST_TEST(r.size() == 1u);
}

BOOST_AUTO_TEST_CASE(odd_limits) {
  howdy::rate_limiter none({0.5, 10s});  // less than one token: nothing ever passes
  BOOST_TEST(!none.try_acquire("k", t0));
  BOOST_TEST(!none.try_acquire("k", t0 + 1h));
  BOOST_TEST(none.size() == 0u);

  howdy::rate_limiter unlimited_rate({1, 0s});  // no refill period: only the burst limits a call
  for (int i = 0; i < 10; ++i) BOOST_TEST(unlimited_rate.try_acquire("k", t0));

  howdy::rate_limiter fractional({2.5, 10s});
  BOOST_TEST(acquire_all(fractional, "k", t0) == 2);
  BOOST_TEST(acquire_all(fractional, "k", t0 + 5s) == 1);  // 0.5 + 0.5

  howdy::rate_limiter zero_keys({1, 10s}, 0);  // treated as one
  BOOST_TEST(zero_keys.try_acquire("a", t0));
  BOOST_TEST(!zero_keys.try_acquire("a", t0));
  BOOST_TEST(zero_keys.size() == 1u);
}

BOOST_AUTO_TEST_CASE(real_clock_default) {
  howdy::rate_limiter r({2, 1h});
  BOOST_TEST(r.try_acquire("k"));
  BOOST_TEST(r.try_acquire("k"));
  BOOST_TEST(!r.try_acquire("k"));  // an hour per token: no refill in a test's lifetime
}

BOOST_AUTO_TEST_CASE(threads_share_the_tokens_exactly) {
  constexpr int threads = 8, tries = 1000, burst = 500;
  howdy::rate_limiter r({burst, 1h}, 16);
  // Two tokens first: "shared" is then emptier than any churned key (one token
  // each), so making room never evicts it, and its count stays exact.
  BOOST_TEST_REQUIRE(r.try_acquire("shared", t0));
  BOOST_TEST_REQUIRE(r.try_acquire("shared", t0));
  std::atomic<int> granted{0}, ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ++ready;
      while (ready < threads) std::this_thread::yield();  // start together
      for (int i = 0; i < tries; ++i) {
        if (r.try_acquire("shared", t0)) ++granted;
        r.try_acquire("own" + std::to_string(t * tries + i), t0);  // churn past max_keys meanwhile
      }
    });
  for (auto& t : pool) t.join();
  BOOST_TEST(granted == burst - 2);
  BOOST_TEST(r.size() <= 16u);
}

// One bucket, no key: what a connection's message rate uses.
BOOST_AUTO_TEST_CASE(token_bucket_spends_its_burst_then_refills_at_the_rate) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::time_point{} + std::chrono::hours(1);
  howdy::token_bucket b(howdy::rate_limit{3, std::chrono::milliseconds(100)}, t0);
  for (int i = 0; i < 3; ++i) BOOST_TEST(b.try_take(t0));
  BOOST_TEST(!b.try_take(t0));
  BOOST_TEST(!b.try_take(t0 + std::chrono::milliseconds(99)));
  BOOST_TEST(b.try_take(t0 + std::chrono::milliseconds(100)));  // one back per 100 ms
  BOOST_TEST(!b.try_take(t0 + std::chrono::milliseconds(150)));
  BOOST_TEST(b.tokens(t0 + std::chrono::seconds(10)) == 3.0);   // never more than the burst
  BOOST_TEST(b.try_take(t0));                                     // a time that went back refills nothing
  BOOST_TEST(b.tokens(t0) == 2.0);
  howdy::token_bucket unlimited(howdy::rate_limit{1, clock::duration::zero()}, t0);
  for (int i = 0; i < 100; ++i) BOOST_TEST(unlimited.try_take(t0));
}

BOOST_AUTO_TEST_SUITE_END()
