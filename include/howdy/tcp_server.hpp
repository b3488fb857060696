// The acceptor loop: one session coroutine per connection, spread over an
// io_context_pool, with a connection limit and a graceful stop.
//
//   howdy::tcp_server server(pool, [&](tcp::socket& s) -> asio::awaitable<void> { ... });
//   if (auto ec = server.listen({asio::ip::make_address("127.0.0.1"), 20002})) ...
//   server.start();
#pragma once

#include <howdy/error.hpp>
#include <howdy/io_context_pool.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

namespace howdy {

struct server_options {
  std::size_t max_connections = 10000;  // further connections are accepted and closed at once
  bool no_delay = true;                 // TCP_NODELAY: small frames must not wait for Nagle
};

class tcp_server {
 public:
  using socket_type = asio::ip::tcp::socket;
  // Runs a session; the socket lives as long as the coroutine.
  using session_handler = std::function<asio::awaitable<void>(socket_type&)>;
  // Hears what went wrong where no one else would: accept errors, sessions
  // that ended with an exception, refused connections.
  using problem_handler = std::function<void(const std::string& what)>;

  tcp_server(io_context_pool& pool, session_handler handler, server_options options = {})
      : pool_(pool), acceptor_(pool.context(0)), handler_(std::move(handler)), options_(options) {}

  tcp_server(const tcp_server&) = delete;
  tcp_server& operator=(const tcp_server&) = delete;

  void on_problem(problem_handler h) { problem_ = std::move(h); }

  // Opens, binds and listens; an error (address in use, not a local address...) is returned.
  std::error_code listen(const asio::ip::tcp::endpoint& endpoint) {
    std::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::error_code ignored;
      acceptor_.close(ignored);
    }
    return ec;
  }

  asio::ip::tcp::endpoint local_endpoint() const {
    std::error_code ec;
    return acceptor_.local_endpoint(ec);
  }

  void start() { asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached); }

  // Stops accepting and shuts down the read side of every connection: each
  // session sees the end of its stream, flushes what it owes and ends.
  // Thread-safe.
  void stop() {
    asio::post(acceptor_.get_executor(), [this] {
      std::error_code ignored;
      acceptor_.close(ignored);
    });
    stopping_ = true;
    std::lock_guard lock(mutex_);
    for (auto& c : live_) shutdown_receive(c->shared_from_this());
  }

  // stop(), then waits until every session has ended or `timeout` has passed;
  // true when all ended.
  asio::awaitable<bool> drain(std::chrono::steady_clock::duration timeout) {
    stop();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (connections() > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    co_return connections() == 0;
  }

  bool stopping() const noexcept { return stopping_; }
  std::size_t connections() const noexcept { return connections_.load(std::memory_order_relaxed); }

 private:
  struct connection : std::enable_shared_from_this<connection> {
    explicit connection(socket_type s) : socket(std::move(s)) {}
    socket_type socket;
  };

  asio::awaitable<void> accept_loop() {
    asio::steady_timer backoff(acceptor_.get_executor());
    while (!stopping_) {
      auto& ctx = pool_.next();
      auto [ec, socket] = co_await acceptor_.async_accept(ctx, asio::experimental::as_tuple(asio::use_awaitable));
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        report("accept failed: " + ec.message());
        // Out of file descriptors and the like: give sessions a moment to end.
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        continue;
      }
      if (connections() >= options_.max_connections) {
        std::error_code ignored;
        report("connection refused (limit of " + std::to_string(options_.max_connections) + " reached)");
        socket.close(ignored);
        continue;
      }
      if (options_.no_delay) socket.set_option(asio::ip::tcp::no_delay(true), ec);
      auto conn = std::make_shared<connection>(std::move(socket));
      track(conn);
      asio::co_spawn(
          ctx, [this, conn]() -> asio::awaitable<void> { co_await handler_(conn->socket); },
          [this, conn](std::exception_ptr e) {
            untrack(conn);
            if (!e) return;
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              report(std::string("session ended with an exception: ") + ex.what());
            } catch (...) {
              report("session ended with an unknown exception");
            }
          });
    }
  }

  void track(const std::shared_ptr<connection>& c) {
    connections_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    live_.insert(c.get());
    // Accepted while stop() ran (it checked stopping_ before the accept
    // completed, and listed live_ before this insert): shut it down too.
    if (stopping_) shutdown_receive(c);
  }

  static void shutdown_receive(const std::shared_ptr<connection>& c) {
    asio::post(c->socket.get_executor(), [c] {
      std::error_code ignored;
      c->socket.shutdown(socket_type::shutdown_receive, ignored);
    });
  }

  void untrack(const std::shared_ptr<connection>& c) {
    {
      std::lock_guard lock(mutex_);
      live_.erase(c.get());
    }
    connections_.fetch_sub(1, std::memory_order_relaxed);
  }

  void report(const std::string& what) {
    if (problem_) problem_(what);
  }

  io_context_pool& pool_;
  asio::ip::tcp::acceptor acceptor_;
  session_handler handler_;
  server_options options_;
  problem_handler problem_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  std::mutex mutex_;
  std::unordered_set<connection*> live_;
};

}  // namespace howdy
