// tcp_server: sessions, the connection limit, stop()/drain(), sessions that
// throw, listen errors. (test_server_lifetime.cpp: the accept loop's faults,
// async_drain, destruction, callback sessions; test_watchdog.cpp: watchdog.)

#include <asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <stdexcept>

#include "server_fixtures.hpp"

using namespace server_test;

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

BOOST_AUTO_TEST_SUITE_END()
