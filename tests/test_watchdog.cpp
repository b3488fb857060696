// watchdog: fires after its timeout, not while pushed back; closes an idle session.

#include <asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>
#include <howdy/watchdog.hpp>

#include "server_fixtures.hpp"

using namespace server_test;

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(watchdog_fires_after_its_timeout) {
  asio::io_context ctx(1);
  bool fired = false;
  howdy::watchdog wd(ctx.get_executor(), [&] { fired = true; });
  const auto start = std::chrono::steady_clock::now();
  wd.expires_after(100ms);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return fired; }));
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 100ms));  // not before its time
  // It fires once; arming it again makes it fire again.
  fired = false;
  wd.expires_after(10ms);
  BOOST_TEST(run_until(ctx, [&] { return fired; }));
}

BOOST_AUTO_TEST_CASE(watchdog_pushed_back_does_not_fire) {
  asio::io_context ctx(1);
  int fired = 0;
  howdy::watchdog wd(ctx.get_executor(), [&] { ++fired; });
  wd.expires_after(2s);
  // Push it back many times, each well before it is due; the first deadline
  // passes meanwhile only if the pushes were ignored.
  asio::steady_timer tick(ctx);
  int pushes = 0;
  bool pushing_done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (; pushes < 25; ++pushes) {
          tick.expires_after(10ms);
          co_await tick.async_wait(asio::use_awaitable);
          wd.expires_after(2s);
        }
        pushing_done = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return pushing_done; }));
  BOOST_TEST(fired == 0);
  // Then it is left alone with a short deadline: it fires, once.
  wd.expires_after(20ms);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return fired > 0; }));
  BOOST_TEST(fired == 1);
}

BOOST_AUTO_TEST_CASE(watchdog_pushed_back_past_its_first_deadline) {
  // The timer wakes at the first deadline, sees it was pushed back, and waits again.
  asio::io_context ctx(1);
  bool fired = false;
  howdy::watchdog wd(ctx.get_executor(), [&] { fired = true; });
  wd.expires_after(30ms);
  wd.expires_after(5s);  // pushed back before it was due
  asio::steady_timer past_first(ctx, 300ms);
  bool waited = false;
  past_first.async_wait([&](std::error_code) { waited = true; });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return waited; }));
  BOOST_TEST(!fired);
  wd.expires_after(10ms);
  BOOST_TEST(run_until(ctx, [&] { return fired; }));
}

BOOST_AUTO_TEST_CASE(watchdog_brought_forward_fires_at_the_new_deadline) {
  // From a long timeout to a short one (say, idle to handshake): the short one counts.
  asio::io_context ctx(1);
  bool fired = false;
  howdy::watchdog wd(ctx.get_executor(), [&] { fired = true; });
  wd.expires_after(1h);
  wd.expires_after(20ms);
  BOOST_TEST(run_until(
      ctx, [&] { return fired; }, 5s));
}

BOOST_AUTO_TEST_CASE(watchdog_disarmed_does_not_fire) {
  asio::io_context ctx(1);
  int fired = 0;
  {
    howdy::watchdog wd(ctx.get_executor(), [&] { ++fired; });
    wd.expires_after(20ms);
    wd.disarm();
    howdy::watchdog zero(ctx.get_executor(), [&] { ++fired; });
    zero.expires_after(20ms);
    zero.expires_after(std::chrono::steady_clock::duration::zero());  // zero disarms
    howdy::watchdog gone(ctx.get_executor(), [&] { ++fired; });
    gone.expires_after(20ms);
  }  // destroyed before it is due
  asio::steady_timer later(ctx, 200ms);
  bool waited = false;
  later.async_wait([&](std::error_code) { waited = true; });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return waited; }));
  BOOST_TEST(fired == 0);
}

BOOST_AUTO_TEST_CASE(watchdog_with_a_huge_timeout_never_fires) {
  // duration::max() saturates at the end of time instead of overflowing into the past.
  asio::io_context ctx(1);
  bool fired = false;
  howdy::watchdog wd(ctx.get_executor(), [&] { fired = true; });
  wd.expires_after(std::chrono::steady_clock::duration::max());
  asio::steady_timer later(ctx, 100ms);
  bool waited = false;
  later.async_wait([&](std::error_code) { waited = true; });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return waited; }));
  BOOST_TEST(!fired);
  wd.expires_after(10ms);  // brought forward from "never"
  BOOST_TEST(run_until(ctx, [&] { return fired; }));
}

BOOST_AUTO_TEST_CASE(watchdog_closes_an_idle_session) {
  // The typical use: an idle timeout closing the socket ends the session.
  std::atomic<int> frames{0};
  std::mutex m;
  std::error_code ending;
  std::atomic<bool> ended{false};
  running_server srv([&](tcp::socket& s) -> asio::awaitable<void> {
    howdy::watchdog idle(s.get_executor(), [&s] {
      std::error_code ignored;
      s.close(ignored);
    });
    howdy::framed_reader reader(s, howdy::codec::lines());
    idle.expires_after(300ms);
    for (;;) {
      auto [ec, f] = co_await reader.async_next(as_tuple_awaitable);
      if (ec) {
        std::lock_guard lock(m);
        ending = ec;
        break;
      }
      ++frames;
      idle.expires_after(300ms);
    }
    ended = true;
  });
  clients c;
  auto sock = c.connect(srv.server.local_endpoint());
  send(sock, "one\ntwo\n");
  BOOST_TEST(c.until_end(sock) == asio::error::eof);  // the server closed it for idleness
  BOOST_TEST_REQUIRE(wait_for([&] { return ended.load(); }));
  BOOST_TEST(frames == 2);
  std::lock_guard lock(m);
  BOOST_TEST(ending == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_SUITE_END()
