// Shared by the server suite's files: a tcp_server on a 2-thread pool running
// in the background, clients driven with bounded waits, an echo session.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <howdy/codec/delimited.hpp>
#include <howdy/framed_reader.hpp>
#include <howdy/io_context_pool.hpp>
#include <howdy/tcp_server.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_streams.hpp"

namespace server_test {

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

  // A session of either form (see tcp_server.hpp).
  template <class Handler>
  explicit running_server(Handler h, howdy::server_options o = {}) : server(pool, std::move(h), o) {
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

inline void send(tcp::socket& s, const std::string& text) { asio::write(s, asio::buffer(text)); }

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

}  // namespace server_test
