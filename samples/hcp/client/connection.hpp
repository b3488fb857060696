// howdy-client: the connection to the server, below any protocol. Connects
// (with retries until a deadline), then runs the two halves of the socket
// side by side: a framed reader that hands each frame to the session, and the
// outbox's writer that sends what the session queued. The session decides
// what frames mean and when to leave; this file only moves bytes.
#pragma once

#include <howdy/error.hpp>
#include <howdy/framed_reader.hpp>
#include <howdy/outbox.hpp>
#include <howdy/shared_buffer.hpp>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace hcp::client {

using tcp = asio::ip::tcp;
inline constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// Connects to host:port, trying again every `retry_every` until `timeout` has
// passed. Every attempt is bounded by the deadline; the first one gets at
// least `first_try` (a second), so a zero timeout still means one real try. `on_retry` is
// called once, with the first failure, when a retry follows. Returns the last
// attempt's error, or nothing on success.
//
// `stop`, if given, is checked after every wait: once it is true the function
// returns operation_aborted instead of trying again. To stop a connect under
// way, set it and close the socket: that ends the attempt at once, and a pause
// between attempts ends within `retry_every`.
inline asio::awaitable<std::error_code> connect_with_retries(
    tcp::socket& socket, std::string host, std::uint16_t port, std::chrono::milliseconds timeout,
    std::function<void(std::error_code)> on_retry,
    std::chrono::milliseconds retry_every = std::chrono::milliseconds(200),
    std::chrono::milliseconds first_try = std::chrono::seconds(1), const bool* stop = nullptr) {
  using namespace asio::experimental::awaitable_operators;
  using clock = std::chrono::steady_clock;
  auto ex = co_await asio::this_coro::executor;
  const auto start = clock::now();
  const auto deadline = start + timeout;
  tcp::resolver resolver(ex);
  asio::steady_timer timer(ex);
  bool retried = false;
  const auto stopped = [stop] { return stop && *stop; };
  for (;;) {
    std::error_code ec;
    if (stopped()) co_return asio::error::operation_aborted;
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), as_tuple_awaitable);
    if (stopped()) co_return asio::error::operation_aborted;
    if (resolve_ec) {
      ec = resolve_ec;
    } else {
      timer.expires_at(retried ? deadline : std::max(deadline, start + first_try));
      auto result =
          co_await (asio::async_connect(socket, endpoints, as_tuple_awaitable) || timer.async_wait(as_tuple_awaitable));
      if (stopped()) {
        std::error_code ignored;
        socket.close(ignored);
        co_return asio::error::operation_aborted;
      }
      if (result.index() == 0) {
        ec = std::get<0>(std::get<0>(result));
        if (!ec) co_return std::error_code{};
      } else {
        ec = asio::error::timed_out;
        std::error_code ignored;
        socket.close(ignored);
      }
    }
    const auto now = clock::now();
    if (now >= deadline) co_return ec;
    if (!retried && on_retry) on_retry(ec);
    retried = true;
    timer.expires_after(std::min<clock::duration>(retry_every, deadline - now));
    co_await timer.async_wait(as_tuple_awaitable);
  }
}

// A connected socket with its outbox. Everything runs on the socket's
// executor (one io_context thread in the client).
class connection {
 public:
  connection(tcp::socket socket, howdy::outbox_options box_options)
      : socket_(std::move(socket)),
        box_(std::make_shared<howdy::outbox>(socket_.get_executor(), std::move(box_options))) {}

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  tcp::socket::executor_type get_executor() noexcept { return socket_.get_executor(); }

  // Queues one frame of `size` bytes, which `write(std::span<std::byte>)` fills.
  template <class Write>
  void send(std::size_t size, Write&& write) {
    box_->push(howdy::shared_buffer::make(size, [&](std::span<std::byte> out) { write(out); }));
  }

  // Writes what is queued (for at most `wait`), then shuts down sending: the
  // server closes its side in turn, which ends the reader.
  void finish(std::chrono::milliseconds wait) { box_->close(wait); }

  // Closes the socket at once: the reader and the writer stop.
  void close() noexcept {
    std::error_code ignored;
    socket_.close(ignored);
  }

  // Why the writer stopped, if it failed (then the outbox closed the socket,
  // and the reader ends with operation_aborted).
  const std::error_code& write_error() const noexcept { return write_error_; }

  // Reads frames with `codec` (at most `max_frame` bytes each) and calls
  // `on_frame(std::span<const std::byte>)` for each, while the outbox writes.
  // When the reader stops, `on_end(std::error_code, std::exception_ptr)` is
  // called with why (the exception, if on_frame threw: the socket is closed
  // by then) and the writer is stopped too. Completes when both are done.
  template <class Codec, class OnFrame, class OnEnd>
  asio::awaitable<void> run(Codec codec, std::size_t max_frame, OnFrame on_frame, OnEnd on_end) {
    using namespace asio::experimental::awaitable_operators;
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);  // chat lines are small and interactive
    co_await (read_loop(std::move(codec), max_frame, std::move(on_frame), std::move(on_end)) && write_loop());
    close();
  }

 private:
  template <class Codec, class OnFrame, class OnEnd>
  asio::awaitable<void> read_loop(Codec codec, std::size_t max_frame, OnFrame on_frame, OnEnd on_end) {
    howdy::framed_reader reader(socket_, std::move(codec), {.max_frame_size = max_frame});
    std::error_code ec;
    std::exception_ptr failure;
    try {
      for (;;) {
        auto [read_ec, frame] = co_await reader.async_next(as_tuple_awaitable);
        if (read_ec) {
          ec = read_ec;
          break;
        }
        on_frame(frame.bytes);
      }
    } catch (...) {
      // Handed to on_end, not thrown: the writer must be stopped before anything unwinds.
      failure = std::current_exception();
      close();
    }
    on_end(ec, failure);
    // The writer may be idle: stop it (nothing more can be delivered anyway).
    box_->fail(howdy::error::outbox_closed);
  }

  asio::awaitable<void> write_loop() {
    const auto ec = co_await box_->run(socket_);
    std::error_code ignored;
    if (!ec) {
      // finish() was called and everything queued is written: tell the server
      // we are done sending; it closes its side, which ends the reader.
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
    } else if (ec != howdy::error::outbox_closed) {
      write_error_ = ec;  // the outbox closed the socket, so the reader ends too
    }
  }

  tcp::socket socket_;
  std::shared_ptr<howdy::outbox> box_;
  std::error_code write_error_;
};

}  // namespace hcp::client
