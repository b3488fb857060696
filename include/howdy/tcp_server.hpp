// The acceptor loop: one session per connection, spread over an
// io_context_pool, with a connection limit and a graceful stop.
//
//   howdy::tcp_server server(pool, [&](tcp::socket& s) -> asio::awaitable<void> { ... });
//   if (auto ec = server.listen({asio::ip::make_address("127.0.0.1"), 20002})) ...
//   server.start();
//
// A session is either form (chosen at compile time, no std::function needed):
// - a coroutine: `asio::awaitable<void>(socket_type& socket)`; the session ends
//   when the coroutine returns or throws;
// - a callback chain: `void(socket_type& socket, howdy::session_done done)`; the
//   session ends when `done()` is called or `done` is destroyed (so the last
//   handler of a chain holding it ends it). Call or drop it once nothing of
//   yours uses the socket any more: the socket closes then.
// Either way the session starts on the connection's own executor (the
// io_context it lives on for good), the socket lives as long as the session,
// and an exception it throws is reported, never fatal.
//
// Lifetime: destroying the server stops it (as stop()); what is pending then
// (the accept, sessions, drains) holds the server's state, not the server, and
// finishes harmlessly. Destroy the server before its pool (the acceptor lives
// on the pool's context 0).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <concepts>
#include <exception>
#include <functional>
#include <howdy/detail/server_core.hpp>
#include <howdy/io_context_pool.hpp>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace howdy {

// Ends a callback session (see above). Move-only; calling it twice, or
// destroying it after the call, does nothing more.
class session_done {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;

  session_done(session_done&& o) noexcept = default;
  session_done& operator=(session_done&& o) noexcept {
    if (this != &o) {
      (*this)();
      sessions_ = std::move(o.sessions_);
      conn_ = std::move(o.conn_);
    }
    return *this;
  }
  ~session_done() { (*this)(); }

  // The connection's executor: where the session runs.
  executor_type get_executor() const noexcept { return conn_->socket.get_executor(); }

  void operator()() noexcept {
    if (!sessions_) return;
    sessions_->untrack(*conn_);
    sessions_.reset();
    conn_.reset();  // the socket closes here unless a session still holds the connection
  }

 private:
  friend struct detail::session_access;

  session_done(std::shared_ptr<detail::server_sessions> s, std::shared_ptr<detail::server_connection> conn)
      : sessions_(std::move(s)), conn_(std::move(conn)) {}

  asio::ip::tcp::socket& socket() const noexcept { return conn_->socket; }

  std::shared_ptr<detail::server_sessions> sessions_;
  std::shared_ptr<detail::server_connection> conn_;
};

// The two session forms.
template <class H>
concept coroutine_session = std::invocable<H&, asio::ip::tcp::socket&> &&
    std::same_as<std::invoke_result_t<H&, asio::ip::tcp::socket&>, asio::awaitable<void>>;
template <class H>
concept callback_session = std::invocable<H&, asio::ip::tcp::socket&, session_done>;
// What tcp_server takes (by value or reference; it keeps a decayed copy).
template <class H>
concept tcp_session = coroutine_session<std::decay_t<H>> || callback_session<std::decay_t<H>>;

namespace detail {

struct session_access {
  static session_done make(std::shared_ptr<server_sessions> s, std::shared_ptr<server_connection> conn) {
    return session_done(std::move(s), std::move(conn));
  }
  static asio::ip::tcp::socket& socket(const session_done& d) noexcept { return d.socket(); }
};

// The sessions' side with the session handler, of either form.
template <class Handler>
class server_sessions_for final : public server_sessions {
 public:
  explicit server_sessions_for(Handler h) : handler_(std::move(h)) {}

  void start_session(session_done done) override {
    auto self = std::static_pointer_cast<server_sessions_for>(shared_from_this());
    auto ex = done.get_executor();
    if constexpr (coroutine_session<Handler>) {
      auto& socket = session_access::socket(done);
      // The handler is called inside the coroutine, on the session's
      // executor: even a throw before its first co_await is the session's.
      asio::co_spawn(
          ex, [self, &socket]() -> asio::awaitable<void> { co_await self->handler_(socket); },
          [self, done = std::move(done)](std::exception_ptr e) mutable {
            done();
            self->report_exception(e);
          });
    } else {
      asio::post(ex, [self, done = std::move(done)]() mutable {
        auto& socket = session_access::socket(done);
        try {
          self->handler_(socket, std::move(done));
        } catch (...) {
          self->report_exception(std::current_exception());
        }
      });
    }
  }

 private:
  Handler handler_;
};

inline void server_core::admit(socket_type socket) {
  if (sessions->connections() >= options_.max_connections) {
    std::error_code ignored;
    socket.close(ignored);
    sessions->report("connection refused (limit of " + std::to_string(options_.max_connections) + " reached)");
    return;
  }
  if (options_.no_delay) {
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  }
  auto conn = std::make_shared<server_connection>(std::move(socket));
  sessions->track(conn);
  // From here the connection is counted: `done` uncounts it however the
  // session goes, even if starting it throws.
  sessions->start_session(session_access::make(sessions, std::move(conn)));
}

}  // namespace detail

class tcp_server {
 public:
  using socket_type = asio::ip::tcp::socket;
  using executor_type = asio::any_io_executor;
  // The classic coroutine session, type-erased; any callable of either form
  // (see the top of this file) works as well, without the std::function.
  using session_handler = std::function<asio::awaitable<void>(socket_type&)>;
  // Hears what went wrong where no one else would: accept errors, failures on
  // the accept path, sessions that ended with an exception, refused
  // connections. Called on the acceptor's or a session's thread (so it must be
  // thread-safe); set it before start().
  using problem_handler = std::function<void(const std::string& what)>;

  template <tcp_session Handler>
  tcp_server(io_context_pool& pool, Handler&& handler, server_options options = {})
      : core_(std::make_shared<detail::server_core>(
            pool, options,
            std::make_shared<detail::server_sessions_for<std::decay_t<Handler>>>(std::forward<Handler>(handler)))) {
    core_->sessions->core = core_;
  }

  tcp_server(const tcp_server&) = delete;
  tcp_server& operator=(const tcp_server&) = delete;

  // Stops (see stop()); pending work finishes without the server.
  ~tcp_server() { core_->stop(); }

  // The acceptor's executor (the pool's context 0): async_drain completes
  // there unless its handler has an executor of its own.
  executor_type get_executor() const noexcept { return core_->acceptor.get_executor(); }

  void on_problem(problem_handler h) { core_->sessions->problem = std::move(h); }

  // Opens, binds and listens; an error (address in use, not a local address...) is returned.
  std::error_code listen(const asio::ip::tcp::endpoint& endpoint) {
    auto& acceptor = core_->acceptor;
    std::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::error_code ignored;
      acceptor.close(ignored);
    }
    return ec;
  }

  asio::ip::tcp::endpoint local_endpoint() const {
    std::error_code ec;
    return core_->acceptor.local_endpoint(ec);
  }

  // Accepts on the acceptor's executor until stop(). The loop does not die:
  // after an accept error or an exception on the accept path it reports the
  // problem and accepts again 100 ms later.
  void start() { core_->start(); }

  // Stops accepting and shuts down the read side of every connection: each
  // session sees the end of its stream, flushes what it owes and ends.
  // Thread-safe.
  void stop() { core_->stop(); }

  // stop(), then waits until every session has ended or `timeout` has passed,
  // without polling. Completion signature void(std::error_code ec, bool
  // all_ended): ec is empty, or asio::error::operation_aborted when cancelled;
  // all_ended says whether no session was left at completion (a timeout is an
  // answer, not an error). Completes on the handler's associated executor
  // (get_executor() by default), never inside this call. Thread-safe.
  //
  // Cancellation (the handler's associated slot): terminal and partial; the
  // server stays stopped (that was the side effect).
  template <class CompletionToken>
  auto async_drain(std::chrono::steady_clock::duration timeout, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code, bool)>(
        [core = core_](auto handler, std::chrono::steady_clock::duration timeout) {
          using op_type = detail::drain_op<decltype(handler)>;
          auto op = std::make_shared<op_type>(core->executor(), std::move(handler));
          auto slot = asio::get_associated_cancellation_slot(op->handler);
          if (slot.is_connected())
            slot.assign([weak_core = std::weak_ptr<detail::server_core>(core),
                         weak_op = std::weak_ptr<detail::drain_waiter>(op)](asio::cancellation_type type) {
              if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
                  asio::cancellation_type::none)
                return;
              if (auto c = weak_core.lock()) c->cancel_drain(weak_op);
            });
          core->stop();
          core->drain(std::move(op), timeout);
        },
        token, timeout);
  }

  // The convenience: co_await server.drain(timeout) is true when all ended
  // (throws std::system_error only if cancelled). Holds the server's state, not
  // the server.
  asio::awaitable<bool> drain(std::chrono::steady_clock::duration timeout) {
    return async_drain(timeout, asio::use_awaitable);
  }

  bool stopping() const noexcept { return core_->sessions->stopping; }
  std::size_t connections() const noexcept { return core_->sessions->connections(); }

 private:
  std::shared_ptr<detail::server_core> core_;
};

}  // namespace howdy
