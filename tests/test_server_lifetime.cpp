// tcp_server: faults on the accept path (the loop goes on and says so),
// async_drain (callbacks, deferred, cancellation, executors), destroying the
// server while things are pending, callback sessions; io_context_pool's run()
// after an exception.

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>

#include "server_fixtures.hpp"

using namespace server_test;

namespace {

struct drained {
  std::error_code ec;
  bool all_ended = false;
  bool on_expected_executor = false;
};

// A session that ignores the end of its stream until released.
auto stubborn(std::atomic<bool>& release) {
  return [&release](tcp::socket& s) -> asio::awaitable<void> {
    asio::steady_timer t(s.get_executor());
    while (!release) {
      t.expires_after(5ms);
      co_await t.async_wait(as_tuple_awaitable);
    }
  };
}

// An echo session written with plain callbacks: "echo <line>" per line, "bye"
// at the end of the stream, then it ends by dropping `done`.
struct callback_echo : std::enable_shared_from_this<callback_echo> {
  callback_echo(tcp::socket& s, howdy::session_done d) : socket(s), done(std::move(d)) {}
  tcp::socket& socket;
  howdy::session_done done;
  std::string in, out;

  void read() {
    asio::async_read_until(
        socket, asio::dynamic_buffer(in), '\n', [self = shared_from_this()](std::error_code ec, std::size_t n) {
          if (ec) {
            self->out = "bye\n";
            return asio::async_write(self->socket, asio::buffer(self->out), [self](std::error_code, std::size_t) {});
          }
          self->out = "echo " + self->in.substr(0, n);
          self->in.erase(0, n);
          asio::async_write(self->socket, asio::buffer(self->out), [self](std::error_code e, std::size_t) {
            if (!e) self->read();
          });
        });
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(the_accept_loop_survives_a_throwing_problem_handler_and_says_so) {
  // max_connections = 0: every connection is refused and reported; the first
  // report throws, on the accept path.
  howdy::io_context_pool pool(2);
  howdy::server_options o;
  o.max_connections = 0;
  std::atomic<int> calls{0};
  std::mutex m;
  std::vector<std::string> problems;
  howdy::tcp_server server(
      pool, [](tcp::socket&) -> asio::awaitable<void> { co_return; }, o);
  server.on_problem([&](const std::string& what) {
    if (calls++ == 0) throw std::runtime_error("logger down");
    std::lock_guard lock(m);
    problems.push_back(what);
  });
  BOOST_TEST_REQUIRE(!server.listen({asio::ip::make_address("127.0.0.1"), 0}));
  server.start();
  std::thread runner([&] { pool.run(); });
  clients c;
  auto first = c.connect(server.local_endpoint());
  BOOST_TEST(c.until_end(first) == asio::error::eof);
  BOOST_TEST_REQUIRE(wait_for([&] { return calls >= 2; }));
  auto second = c.connect(server.local_endpoint());  // still accepting (after the pause)
  BOOST_TEST(c.until_end(second) == asio::error::eof);
  BOOST_TEST_REQUIRE(wait_for([&] { return calls >= 3; }));
  pool.stop();
  runner.join();
  std::lock_guard lock(m);
  BOOST_TEST_REQUIRE(problems.size() == 2u);
  BOOST_TEST(problems[0] == "accept loop failed (logger down); accepting again in 100 ms");
  BOOST_TEST(problems[1] == "connection refused (limit of 0 reached)");
}

BOOST_AUTO_TEST_CASE(a_handler_that_throws_when_called_is_a_failed_session) {
  // Not a coroutine: it throws before making one. The server goes on.
  std::atomic<int> calls{0};
  running_server srv([&](tcp::socket& s) -> asio::awaitable<void> {
    if (calls++ == 0) throw std::runtime_error("no session for you");
    return [](tcp::socket& s) -> asio::awaitable<void> {
      co_await asio::async_write(s, asio::buffer(std::string("fine\n")), as_tuple_awaitable);
    }(s);
  });
  clients c;
  auto bad = c.connect(srv.server.local_endpoint());
  BOOST_TEST(c.until_end(bad) == asio::error::eof);
  BOOST_TEST_REQUIRE(wait_for([&] { return !srv.problems_so_far().empty(); }));
  BOOST_TEST(srv.problems_so_far().front() == "session ended with an exception: no session for you");
  auto good = c.connect(srv.server.local_endpoint());
  std::string buf;
  BOOST_TEST(c.line(good, buf) == "fine");
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 0; }));
}

BOOST_AUTO_TEST_CASE(async_drain_completes_when_the_last_session_ends) {
  std::atomic<bool> release{false};
  running_server srv(stubborn(release));
  clients c;
  auto a = c.connect(srv.server.local_endpoint());
  auto b = c.connect(srv.server.local_endpoint());
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 2; }));
  // A plain callback: on the acceptor's executor (the pool's context 0).
  std::promise<drained> got;
  srv.server.async_drain(30s, [&](std::error_code ec, bool all) {
    got.set_value({ec, all, srv.pool.context(0).get_executor().running_in_this_thread()});
  });
  auto f = got.get_future();
  BOOST_TEST((f.wait_for(100ms) == std::future_status::timeout));  // sessions still there
  const auto released = std::chrono::steady_clock::now();
  release = true;
  BOOST_TEST_REQUIRE((f.wait_for(5s) == std::future_status::ready));
  BOOST_TEST((std::chrono::steady_clock::now() - released < 2s));  // not at the timeout
  const auto d = f.get();
  BOOST_TEST(!d.ec);
  BOOST_TEST(d.all_ended);
  BOOST_TEST(d.on_expected_executor);
  BOOST_TEST(srv.server.connections() == 0u);

  // Nothing left: completes at once, never inside the call; on a bound executor.
  std::optional<drained> again;
  srv.server.async_drain(30s, asio::bind_executor(c.ctx, [&](std::error_code ec, bool all) {
                           again = drained{ec, all, c.ctx.get_executor().running_in_this_thread()};
                         }));
  BOOST_TEST(!again.has_value());
  BOOST_TEST_REQUIRE(run_until(c.ctx, [&] { return again.has_value(); }));
  BOOST_TEST(again->all_ended);
  BOOST_TEST(again->on_expected_executor);
}

BOOST_AUTO_TEST_CASE(async_drain_times_out_works_deferred_and_can_be_cancelled) {
  std::atomic<bool> release{false};
  running_server srv(stubborn(release));
  clients c;
  auto a = c.connect(srv.server.local_endpoint());
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 1; }));

  // Deferred, timing out.
  auto op = srv.server.async_drain(50ms, asio::experimental::deferred);
  std::optional<drained> timed_out;
  std::move(op)(asio::bind_executor(c.ctx, [&](std::error_code ec, bool all) { timed_out = drained{ec, all, true}; }));
  BOOST_TEST_REQUIRE(run_until(c.ctx, [&] { return timed_out.has_value(); }));
  BOOST_TEST(!timed_out->ec);  // a timeout is an answer
  BOOST_TEST(!timed_out->all_ended);

  // Cancelled through its slot (a total cancellation is not honoured: the stop happened).
  asio::cancellation_signal signal;
  std::optional<drained> cancelled;
  srv.server.async_drain(
      30s, asio::bind_cancellation_slot(signal.slot(), asio::bind_executor(c.ctx, [&](std::error_code ec, bool all) {
                                          cancelled = drained{ec, all, true};
                                        })));
  c.ctx.restart();
  c.ctx.poll();
  signal.emit(asio::cancellation_type::total);
  BOOST_TEST(!run_until(
      c.ctx, [&] { return cancelled.has_value(); }, 100ms));
  signal.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(
      c.ctx, [&] { return cancelled.has_value(); }, 5s));
  BOOST_TEST(cancelled->ec == asio::error::operation_aborted);
  BOOST_TEST(!cancelled->all_ended);

  // A cancelled coroutine: drain() throws operation_aborted.
  asio::cancellation_signal coro_signal;
  std::optional<std::error_code> caught;
  asio::co_spawn(
      c.ctx,
      [&]() -> asio::awaitable<void> {
        try {
          co_await srv.server.drain(30s);
        } catch (const std::system_error& e) {
          caught = e.code();
        }
      },
      asio::bind_cancellation_slot(coro_signal.slot(), asio::detached));
  c.ctx.restart();
  c.ctx.poll();
  coro_signal.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(
      c.ctx, [&] { return caught.has_value(); }, 5s));
  BOOST_TEST(*caught == asio::error::operation_aborted);
  release = true;
}

BOOST_AUTO_TEST_CASE(destroying_the_server_while_sessions_run_and_an_accept_waits) {
  // Runs under ASan in CI: nothing pending may touch the destroyed server.
  howdy::io_context_pool pool(2);
  echo_sessions sessions;
  auto server = std::make_unique<howdy::tcp_server>(pool, sessions.handler());
  BOOST_TEST_REQUIRE(!server->listen({asio::ip::make_address("127.0.0.1"), 0}));
  const auto ep = server->local_endpoint();
  server->start();
  std::thread runner([&] { pool.run(); });
  clients c;
  constexpr int n = 3;
  std::vector<tcp::socket> socks;
  std::vector<std::string> bufs(n);
  for (int i = 0; i < n; ++i) {
    socks.push_back(c.connect(ep));
    send(socks[i], "x\n");
    BOOST_TEST_REQUIRE(c.line(socks[i], bufs[i]) == "echo x");
  }
  // A drain still waiting when the server goes.
  std::promise<bool> drain_result;
  server->async_drain(30s, [&](std::error_code, bool all) { drain_result.set_value(all); });
  server.reset();  // stops it: the sessions see the end of their streams and end
  for (int i = 0; i < n; ++i) {
    std::string rest;
    BOOST_TEST(c.until_end(socks[i], &rest) == asio::error::eof);
    BOOST_TEST(bufs[i] + rest == "bye\n");
  }
  BOOST_TEST(drain_result.get_future().get());
  BOOST_TEST(sessions.ended == n);
  pool.release();
  runner.join();  // pool.run() returned: nothing left pending
}

BOOST_AUTO_TEST_CASE(destroying_a_started_server_before_its_pool_ever_ran) {
  howdy::io_context_pool pool(2);
  {
    howdy::tcp_server server(pool, [](tcp::socket&) -> asio::awaitable<void> { co_return; });
    BOOST_TEST_REQUIRE(!server.listen({asio::ip::make_address("127.0.0.1"), 0}));
    server.start();
    server.async_drain(1s, [](std::error_code, bool) {});
  }
  pool.release();
  pool.run();  // the posted start, the close and the drain run without the server, and end
}

BOOST_AUTO_TEST_CASE(callback_sessions) {
  std::atomic<int> started{0};
  running_server srv([&](tcp::socket& s, howdy::session_done done) {
    ++started;
    std::make_shared<callback_echo>(s, std::move(done))->read();
  });
  clients c;
  auto a = c.connect(srv.server.local_endpoint());
  std::string buf;
  send(a, "hi\n");
  BOOST_TEST(c.line(a, buf) == "echo hi");
  send(a, "again\n");
  BOOST_TEST(c.line(a, buf) == "echo again");
  BOOST_TEST(srv.server.connections() == 1u);
  a.shutdown(tcp::socket::shutdown_send);
  std::string rest;
  BOOST_TEST(c.until_end(a, &rest) == asio::error::eof);  // the session ended: the socket closed
  BOOST_TEST(buf + rest == "bye\n");
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 0; }));

  // stop() reaches them too, and drain sees them end.
  auto b = c.connect(srv.server.local_endpoint());
  send(b, "x\n");
  BOOST_TEST(c.line(b, buf) == "echo x");
  std::optional<drained> d;
  srv.server.async_drain(5s, asio::bind_executor(c.ctx, [&](std::error_code ec, bool all) {
                           d = drained{ec, all, true};
                         }));
  BOOST_TEST_REQUIRE(run_until(c.ctx, [&] { return d.has_value(); }));
  BOOST_TEST(d->all_ended);
  BOOST_TEST(started == 2);
  BOOST_TEST(srv.problems_so_far().empty());
}

BOOST_AUTO_TEST_CASE(callback_sessions_that_end_at_once_or_throw) {
  std::atomic<int> calls{0};
  running_server srv([&](tcp::socket&, howdy::session_done done) {
    if (calls++ == 0) throw std::runtime_error("callback boom");  // `done` goes with the throw
    done();                                                       // ends now: the socket closes
  });
  clients c;
  auto a = c.connect(srv.server.local_endpoint());
  BOOST_TEST(c.until_end(a) == asio::error::eof);
  auto b = c.connect(srv.server.local_endpoint());
  BOOST_TEST(c.until_end(b) == asio::error::eof);
  BOOST_TEST_REQUIRE(wait_for([&] { return srv.server.connections() == 0 && calls == 2; }));
  const auto problems = srv.problems_so_far();
  BOOST_TEST_REQUIRE(problems.size() == 1u);
  BOOST_TEST(problems[0] == "session ended with an exception: callback boom");
}

BOOST_AUTO_TEST_CASE(pool_run_again_after_an_exception_does_not_double_threads) {
  // Context 1's thread is held in a handler while context 0 throws; run()
  // again must not start a second thread on context 1.
  howdy::io_context_pool pool(2);
  std::promise<void> entered, open;
  auto opened = open.get_future().share();
  std::atomic<bool> second_ran{false};
  asio::post(pool.context(1), [&] {
    entered.set_value();
    opened.wait();
  });
  asio::post(pool.context(1), [&] { second_ran = true; });
  asio::post(pool.context(0), [&] {
    entered.get_future().wait();
    throw std::runtime_error("handler failed");
  });
  BOOST_CHECK_THROW(pool.run(), std::runtime_error);
  std::atomic<bool> resumed{false};
  asio::post(pool.context(0), [&] {
    std::this_thread::sleep_for(100ms);  // a second thread on context 1 would run second_ran meanwhile
    resumed = !second_ran;
    open.set_value();
    pool.release();
  });
  pool.run();
  BOOST_TEST(resumed);
  BOOST_TEST(second_ran);
}

BOOST_AUTO_TEST_SUITE_END()
