// What a tcp_server shares with its accept loop, its sessions and its drains,
// in two parts, so that no completion handler holds the tcp_server itself (it
// can be destroyed at any time; what is pending then finishes harmlessly):
// - server_core, the acceptor's side: the acceptor, the backoff timer, the
//   waiting drains. Held by the tcp_server and by handlers on the acceptor's
//   executor only, so it never outlives the acceptor's io_context.
// - server_sessions: the live connections, the counters, the problem and
//   session handlers. Held by every session too (on any context of the pool);
//   it owns no I/O object of the acceptor's context, and sees the acceptor's
//   side weakly.
//
// Threads: the acceptor, the timer and the drain list are touched on the
// acceptor's executor only (context 0 of the pool, one thread); the
// connection set is under a mutex; the counters are atomics.
#pragma once

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <howdy/io_context_pool.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

namespace howdy {

struct server_options {
  std::size_t max_connections = 10000;  // further connections are accepted and closed at once
  bool no_delay = true;                 // TCP_NODELAY: small frames must not wait for Nagle
};

class session_done;

namespace detail {

struct session_access;

struct server_connection : std::enable_shared_from_this<server_connection> {
  explicit server_connection(asio::ip::tcp::socket s) : socket(std::move(s)) {}
  asio::ip::tcp::socket socket;
};

// One async_drain waiting for the last session; lives on the acceptor's executor.
struct drain_waiter {
  explicit drain_waiter(const asio::any_io_executor& ex) : timer(ex) {}
  virtual ~drain_waiter() = default;
  virtual void complete(std::error_code ec, bool all_ended) = 0;  // on the acceptor's executor
  asio::steady_timer timer;                                       // the timeout
  bool done = false;
};

template <class Handler>
struct drain_op final : drain_waiter {
  drain_op(const asio::any_io_executor& io, Handler h)
      : drain_waiter(io), handler(std::move(h)), work(asio::get_associated_executor(handler, io)) {}

  // Dispatched: we are in a handler of the acceptor's executor already, so
  // with the default executor the handler runs here, never inside async_drain.
  // The work guard goes with the handler: once handed over, this thread must
  // not touch the handler's executor (its context may be gone already).
  void complete(std::error_code ec, bool all_ended) override {
    auto ex = asio::get_associated_executor(handler, timer.get_executor());
    asio::dispatch(ex, [h = std::move(handler), w = std::move(work), ec, all_ended]() mutable {
      asio::get_associated_cancellation_slot(h).clear();  // where its signal is emitted
      std::move(h)(ec, all_ended);
    });
  }

  Handler handler;
  asio::executor_work_guard<asio::associated_executor_t<Handler, asio::any_io_executor>> work;
};

class server_core;

class server_sessions : public std::enable_shared_from_this<server_sessions> {
 public:
  using socket_type = asio::ip::tcp::socket;
  using connection_ptr = std::shared_ptr<server_connection>;
  using problem_handler = std::function<void(const std::string& what)>;

  virtual ~server_sessions() = default;

  // Runs the session of a tracked connection on its own executor; dropping
  // `done` (or calling it) ends the session.
  virtual void start_session(session_done done) = 0;

  std::size_t connections() const noexcept { return connections_.load(std::memory_order_relaxed); }

  void track(const connection_ptr& c) {
    connections_.fetch_add(1);
    std::lock_guard lock(mutex_);
    live_.insert(c.get());
    // Accepted while stop() ran (it set stopping before the accept
    // completed, and listed live_ before this insert): shut it down too.
    if (stopping) shutdown_receive(*c);
  }

  // A session is over: forget its connection, and tell waiting drains if it
  // was the last (defined below server_core).
  void untrack(server_connection& c);

  // Every session sees the end of its stream.
  void shutdown_all() {
    std::lock_guard lock(mutex_);
    for (auto* c : live_) shutdown_receive(*c);
  }

  void report(const std::string& what) {
    if (problem) problem(what);
  }

  void report_exception(std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      report(std::string("session ended with an exception: ") + ex.what());
    } catch (...) {
      report("session ended with an unknown exception");
    }
  }

  std::atomic<bool> stopping{false};
  problem_handler problem;          // set before start()
  std::weak_ptr<server_core> core;  // the acceptor's side, for the drains

 private:
  // Posted to the connection's executor, which owns its socket. Called under
  // mutex_: the connection is in live_, so its session (holding it) is not over.
  static void shutdown_receive(server_connection& c) {
    asio::post(c.socket.get_executor(), [c = c.shared_from_this()] {
      std::error_code ignored;
      c->socket.shutdown(socket_type::shutdown_receive, ignored);
    });
  }

  std::atomic<std::size_t> connections_{0};
  std::mutex mutex_;
  std::unordered_set<server_connection*> live_;
};

class server_core : public std::enable_shared_from_this<server_core> {
 public:
  using socket_type = asio::ip::tcp::socket;

  // Accepting again this long after an accept error or a failure on the accept path.
  static constexpr std::chrono::milliseconds backoff{100};

  server_core(io_context_pool& pool, server_options options, std::shared_ptr<server_sessions> s)
      : acceptor(pool.context(0)),
        sessions(std::move(s)),
        pool_(pool),
        backoff_timer_(acceptor.get_executor()),
        options_(options) {}

  server_core(const server_core&) = delete;
  server_core& operator=(const server_core&) = delete;

  asio::any_io_executor executor() { return acceptor.get_executor(); }

  void start() {
    asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->accept_next(); });
  }

  // Thread-safe; see tcp_server::stop.
  void stop() {
    sessions->stopping = true;
    asio::post(acceptor.get_executor(), [self = shared_from_this()] {
      std::error_code ignored;
      self->acceptor.close(ignored);
      self->backoff_timer_.cancel();
    });
    sessions->shutdown_all();
  }

  // Starts a drain (from any thread); it completes on the acceptor's executor
  // once no session is left, at the timeout, or when cancelled.
  void drain(std::shared_ptr<drain_waiter> w, std::chrono::steady_clock::duration timeout) {
    asio::post(acceptor.get_executor(), [self = shared_from_this(), w = std::move(w), timeout] {
      if (self->sessions->connections() == 0) return self->finish(w, {});
      self->drains_.push_back(w);
      w->timer.expires_after(timeout);
      w->timer.async_wait([self, w](std::error_code ec) {
        if (!ec) self->finish(w, {});
      });
    });
  }

  void cancel_drain(std::weak_ptr<drain_waiter> weak) {
    asio::post(acceptor.get_executor(), [self = shared_from_this(), weak = std::move(weak)] {
      if (auto w = weak.lock()) self->finish(w, asio::error::operation_aborted);
    });
  }

  // From any thread: the last session ended while stopping.
  void post_sessions_ended() {
    asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->sessions_ended(); });
  }

  asio::ip::tcp::acceptor acceptor;
  const std::shared_ptr<server_sessions> sessions;

 private:
  void accept_next() {
    try {
      if (sessions->stopping) return;
      acceptor.async_accept(pool_.next(), [self = shared_from_this()](std::error_code ec, socket_type socket) {
        self->on_accept(ec, std::move(socket));
      });
    } catch (...) {
      failed();
    }
  }

  void on_accept(std::error_code ec, socket_type socket) {
    if (sessions->stopping || ec == asio::error::operation_aborted) return;
    try {
      if (ec) {
        // Out of file descriptors and the like: give sessions a moment to end.
        sessions->report("accept failed: " + ec.message());
        return pause();
      }
      admit(std::move(socket));
    } catch (...) {
      return failed();
    }
    accept_next();
  }

  void admit(socket_type socket);  // in tcp_server.hpp, where session_done is complete

  // Something threw on the accept path (a problem handler, an allocation):
  // the loop goes on after a pause, and the problem handler hears of it. If
  // that report throws too, the exception leaves io_context::run(), as a
  // throwing handler's does in Asio, with the loop still armed.
  void failed() {
    std::string what = "an unknown exception";
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    pause();
    sessions->report("accept loop failed (" + what + "); accepting again in " + std::to_string(backoff.count()) +
                     " ms");
  }

  void pause() {
    backoff_timer_.expires_after(backoff);
    backoff_timer_.async_wait([self = shared_from_this()](std::error_code) { self->accept_next(); });
  }

  void finish(const std::shared_ptr<drain_waiter>& w, std::error_code ec) {
    if (w->done) return;
    w->done = true;
    w->timer.cancel();
    drains_.erase(std::remove(drains_.begin(), drains_.end(), w), drains_.end());
    w->complete(ec, sessions->connections() == 0);
  }

  void sessions_ended() {
    if (sessions->connections() != 0) return;  // one accepted meanwhile; its end will tell
    auto waiting = std::move(drains_);
    drains_.clear();
    for (auto& w : waiting) finish(w, {});
  }

  io_context_pool& pool_;
  asio::steady_timer backoff_timer_;
  server_options options_;
  std::vector<std::shared_ptr<drain_waiter>> drains_;  // acceptor's executor only
};

inline void server_sessions::untrack(server_connection& c) {
  {
    std::lock_guard lock(mutex_);
    live_.erase(&c);
  }
  // stopping is stored before a drain looks at the count, and read here
  // after the count went down (both sequentially consistent): either the
  // drain sees no session left, or this posts the news to it. The acceptor's
  // side may be gone (its context destroyed): then no drain waits.
  if (connections_.fetch_sub(1) == 1 && stopping)
    if (auto c = core.lock()) c->post_sessions_ended();
}

}  // namespace detail
}  // namespace howdy
