// tcp_server: sessions, the connection limit, stop()/drain(), sessions that
// throw; watchdog: fires after its timeout, not while pushed back.

#include <boost/test/unit_test.hpp>

#include "test_streams.hpp"

#include <howdy/codec/delimited.hpp>
#include <howdy/framed_reader.hpp>
#include <howdy/io_context_pool.hpp>
#include <howdy/tcp_server.hpp>
#include <howdy/watchdog.hpp>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

using howdy_test::run_until;

// Waits for a condition set by other threads (bounded).
template <class Pred>
bool wait_for(Pred done, std::chrono::steady_clock::duration limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(2ms);
  return done();
}

// A server on a 2-thread pool, running on a background thread; stops and
// joins before the server goes away.
struct running_server {
  howdy::io_context_pool pool{2};
  howdy::tcp_server server;
  std::thread runner;
  std::mutex m;
  std::vector<std::string> problems;

  running_server(howdy::tcp_server::session_handler h, howdy::server_options o = {}) : server(pool, std::move(h), o) {
    server.on_problem([this](const std::string& what) {
      std::lock_guard lock(m);
      problems.push_back(what);
    });
    BOOST_TEST_REQUIRE(!server.listen({asio::ip::make_address("127.0.0.1"), 0}));
    BOOST_TEST_REQUIRE(server.local_endpoint().port() != 0);
    server.start();
    runner = std::thread([this] { pool.run(); });
  }
  ~running_server() {
    pool.stop();
    runner.join();
  }
  std::vector<std::string> problems_so_far() {
    std::lock_guard lock(m);
    return problems;
  }
};

// The test's side: clients on their own io_context, driven with bounded waits.
struct clients {
  asio::io_context ctx;

  tcp::socket connect(const tcp::endpoint& ep) {
    tcp::socket s(ctx);
    s.connect(ep);
    return s;
  }

  // Reads one line (without "\n"); "<timeout>" or "<error: ...>" otherwise.
  std::string line(tcp::socket& s, std::string& buf) {
    bool done = false;
    std::error_code ec;
    std::size_t n = 0;
    asio::async_read_until(s, asio::dynamic_buffer(buf), '\n', [&](std::error_code e, std::size_t k) {
      ec = e;
      n = k;
      done = true;
    });
    if (!run_until(ctx, [&] { return done; })) {
      s.cancel();
      run_until(ctx, [&] { return done; });
      return "<timeout>";
    }
    if (ec) return "<error: " + ec.message() + ">";
    std::string l = buf.substr(0, n - 1);
    buf.erase(0, n);
    return l;
  }

  // Reads until the stream ends; the error that ended it (eof for a clean
  // close), or timed_out.
  std::error_code until_end(tcp::socket& s, std::string* data = nullptr) {
    std::error_code result;
    bool done = false;
    std::string sink;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          char b[4096];
          for (;;) {
            auto [ec, n] = co_await s.async_read_some(asio::buffer(b), as_tuple_awaitable);
            if (ec) {
              result = ec;
              break;
            }
            sink.append(b, n);
          }
          done = true;
        },
        asio::detached);
    if (!run_until(ctx, [&] { return done; })) {
      s.cancel();
      run_until(ctx, [&] { return done; });
      return asio::error::timed_out;
    }
    if (data) *data = sink;
    return result;
  }
};

void send(tcp::socket& s, const std::string& text) { asio::write(s, asio::buffer(text)); }

// An echo session over lines: answers every line, says "bye" when the client is done.
struct echo_sessions {
  std::atomic<int> started{0}, ended{0};
  std::mutex m;
  std::vector<std::error_code> endings;

  howdy::tcp_server::session_handler handler() {
    return [this](tcp::socket& s) -> asio::awaitable<void> {
      ++started;
      howdy::framed_reader reader(s, howdy::codec::lines());
      std::error_code why;
      for (;;) {
        auto [ec, f] = co_await reader.async_next(as_tuple_awaitable);
        if (ec) {
          why = ec;
          break;
        }
        std::string reply(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
        reply = "echo " + reply + "\n";
        co_await asio::async_write(s, asio::buffer(reply), as_tuple_awaitable);
      }
      co_await asio::async_write(s, asio::buffer(std::string("bye\n")), as_tuple_awaitable);
      {
        std::lock_guard lock(m);
        endings.push_back(why);
      }
      ++ended;
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(sessions_run) {
  echo_sessions sessions;
  running_server srv(sessions.handler());
  clients c;
  constexpr int n = 6;
  std::vector<tcp::socket> socks;
  std::vector<std::string> bufs(n);
  for (int i = 0; i < n; ++i) socks.push_back(c.connect(srv.server.local_endpoint()));
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < n; ++i) {
      send(socks[i], "hello " + std::to_string(i) + " " + std::to_string(round) + "\n");
      BOOST_TEST(c.line(socks[i], bufs[i]) == "echo hello " + std::to_string(i) + " " + std::to_string(round));
    }
  BOOST_TEST(srv.server.connections() == std::size_t(n));
  for (auto& s : socks) s.shutdown(tcp::socket::shutdown_send);
  for (int i = 0; i < n; ++i) BOOST_TEST(c.line(socks[i], bufs[i]) == "bye");
  BOOST_TEST_REQUIRE(wait_for([&] { return sessions.ended == n; }));
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 0; }));
  for (auto& e : sessions.endings) BOOST_TEST(e == howdy::error::end_of_stream);
  BOOST_TEST(srv.problems_so_far().empty());
}

BOOST_AUTO_TEST_CASE(connection_limit_closes_the_extra_connection) {
  echo_sessions sessions;
  howdy::server_options o;
  o.max_connections = 3;
  running_server srv(sessions.handler(), o);
  clients c;
  std::vector<tcp::socket> socks;
  std::vector<std::string> bufs(5);
  for (int i = 0; i < 3; ++i) {
    socks.push_back(c.connect(srv.server.local_endpoint()));
    send(socks[i], "hi\n");
    BOOST_TEST_REQUIRE(c.line(socks[i], bufs[i]) == "echo hi");  // served, so counted
  }
  BOOST_TEST(srv.server.connections() == 3u);
  auto fourth = c.connect(srv.server.local_endpoint());
  BOOST_TEST(c.until_end(fourth) == asio::error::eof);  // closed at once, nothing sent
  BOOST_TEST(sessions.started == 3);
  BOOST_TEST_REQUIRE(wait_for([&] { return !srv.problems_so_far().empty(); }));
  BOOST_TEST(srv.problems_so_far().front().find("limit") != std::string::npos);

  // Once one leaves, there is room again.
  socks[0].close();
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 2; }));
  auto fifth = c.connect(srv.server.local_endpoint());
  send(fifth, "again\n");
  BOOST_TEST(c.line(fifth, bufs[3]) == "echo again");
  BOOST_TEST(srv.server.connections() == 3u);
}

BOOST_AUTO_TEST_CASE(stop_and_drain_end_every_session) {
  echo_sessions sessions;
  running_server srv(sessions.handler());
  clients c;
  constexpr int n = 4;
  std::vector<tcp::socket> socks;
  std::vector<std::string> bufs(n);
  for (int i = 0; i < n; ++i) {
    socks.push_back(c.connect(srv.server.local_endpoint()));
    send(socks[i], "x\n");
    BOOST_TEST_REQUIRE(c.line(socks[i], bufs[i]) == "echo x");
  }
  BOOST_TEST(srv.server.connections() == std::size_t(n));

  std::optional<bool> drained;
  asio::co_spawn(
      c.ctx, [&]() -> asio::awaitable<void> { drained = co_await srv.server.drain(5s); }, asio::detached);
  BOOST_TEST_REQUIRE(run_until(c.ctx, [&] { return drained.has_value(); }));
  BOOST_TEST(*drained);
  BOOST_TEST(srv.server.stopping());
  BOOST_TEST(srv.server.connections() == 0u);
  BOOST_TEST(sessions.ended == n);
  for (auto& e : sessions.endings) BOOST_TEST(e == howdy::error::end_of_stream);  // they saw the end of their stream
  // Each session still flushed what it owed, then the connection ended.
  for (int i = 0; i < n; ++i) {
    std::string rest;
    BOOST_TEST(c.until_end(socks[i], &rest) == asio::error::eof);
    BOOST_TEST(bufs[i] + rest == "bye\n");
  }
  // No longer accepting.
  tcp::socket late(c.ctx);
  std::error_code ec;
  late.connect(srv.server.local_endpoint(), ec);
  if (!ec) BOOST_TEST(c.until_end(late) != asio::error::timed_out);  // (if the kernel still took it, it ends)
  BOOST_TEST(sessions.started == n);
}

BOOST_AUTO_TEST_CASE(drain_reports_sessions_that_do_not_end) {
  // A session that ignores the end of its stream keeps drain from succeeding.
  std::atomic<bool> release{false};
  running_server srv([&](tcp::socket& s) -> asio::awaitable<void> {
    asio::steady_timer t(s.get_executor());
    while (!release) {
      t.expires_after(5ms);
      co_await t.async_wait(as_tuple_awaitable);
    }
  });
  clients c;
  auto sock = c.connect(srv.server.local_endpoint());
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 1; }));
  std::optional<bool> drained;
  asio::co_spawn(
      c.ctx, [&]() -> asio::awaitable<void> { drained = co_await srv.server.drain(100ms); }, asio::detached);
  BOOST_TEST_REQUIRE(run_until(c.ctx, [&] { return drained.has_value(); }));
  BOOST_TEST(!*drained);
  release = true;
  BOOST_TEST(wait_for([&] { return srv.server.connections() == 0; }));
}

BOOST_AUTO_TEST_CASE(a_session_that_throws_does_not_kill_the_server) {
  std::atomic<int> served{0};
  running_server srv([&](tcp::socket& s) -> asio::awaitable<void> {
    char b[16];
    auto [ec, n] = co_await s.async_read_some(asio::buffer(b), as_tuple_awaitable);
    if (!ec && b[0] == '!') throw std::runtime_error("boom");
    if (!ec && b[0] == '?') throw 42;  // not even an exception class
    ++served;
    co_await asio::async_write(s, asio::buffer(std::string("fine\n")), as_tuple_awaitable);
  });
  clients c;
  std::string buf;
  {
    auto bad = c.connect(srv.server.local_endpoint());
    send(bad, "!");
    BOOST_TEST(c.until_end(bad) != asio::error::timed_out);  // its connection just ends
  }
  {
    auto worse = c.connect(srv.server.local_endpoint());
    send(worse, "?");
    BOOST_TEST(c.until_end(worse) != asio::error::timed_out);
  }
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.problems_so_far().size() == 2; }));
  const auto problems = srv.problems_so_far();
  BOOST_TEST(problems[0] == "session ended with an exception: boom");
  BOOST_TEST(problems[1] == "session ended with an unknown exception");
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 0; }));
  // Still serving.
  auto good = c.connect(srv.server.local_endpoint());
  send(good, "ok");
  BOOST_TEST(c.line(good, buf) == "fine");
  BOOST_TEST(served == 1);
}

BOOST_AUTO_TEST_CASE(listen_reports_errors) {
  howdy::io_context_pool pool(1);
  howdy::tcp_server a(pool, [](tcp::socket&) -> asio::awaitable<void> { co_return; });
  BOOST_TEST_REQUIRE(!a.listen({asio::ip::make_address("127.0.0.1"), 0}));
  howdy::tcp_server b(pool, [](tcp::socket&) -> asio::awaitable<void> { co_return; });
  // The same port while a listens on it: address in use.
  BOOST_TEST(b.listen(a.local_endpoint()) == asio::error::address_in_use);
  // Not a local address.
  howdy::tcp_server d(pool, [](tcp::socket&) -> asio::awaitable<void> { co_return; });
  BOOST_TEST(static_cast<bool>(d.listen({asio::ip::make_address("192.0.2.1"), 0})));
}

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
  BOOST_TEST(run_until(ctx, [&] { return fired; }, 5s));
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
