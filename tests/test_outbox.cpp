// outbox writer lifetime and completion tokens: run_duplex (clean end, reader
// throws, peer resets, cancelled, slow peer), and async_run with a callback,
// use_awaitable, deferred and a cancellation slot.

#include <boost/test/unit_test.hpp>

#include "test_streams.hpp"

#include <howdy/outbox.hpp>
#include <howdy/shared_buffer.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

using asio::ip::tcp;
using howdy_test::run_until;
using namespace std::chrono_literals;

howdy::shared_buffer frame(std::size_t size, char fill = 'x') { return howdy::shared_buffer::copy_of(std::string(size, fill)); }

// A connected pair with 2 KB kernel buffers each way: a client that does not
// read stalls the server's writer after a few KB.
struct stallable_pair {
  tcp::socket server, client;
  explicit stallable_pair(asio::io_context& ctx) : server(ctx), client(ctx) {
    tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    client.open(tcp::v4());
    client.set_option(asio::socket_base::receive_buffer_size(2048));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    server.set_option(asio::socket_base::send_buffer_size(2048));
  }
};

// Runs `ctx` for `d` more: whatever completes late (an aborted wait) runs.
void run_for(asio::io_context& ctx, std::chrono::milliseconds d) {
  asio::steady_timer t(ctx, d);
  bool done = false;
  t.async_wait([&](std::error_code) { done = true; });
  run_until(ctx, [&] { return done; });
}

asio::awaitable<void> throw_after(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
  throw std::runtime_error("reader failed");
}

// Reads until the stream fails (the peer closed it, or the outbox did).
asio::awaitable<void> read_until_error(tcp::socket& s, std::error_code& why) {
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) {
      why = ec;
      co_return;
    }
  }
}

// Reads `n` bytes from `s` on a coroutine of its own; sets `done` then.
void read_exactly(tcp::socket& s, std::size_t n, std::string& out, bool& done) {
  out.resize(n);
  asio::async_read(s, asio::buffer(out), [&](std::error_code ec, std::size_t got) {
    BOOST_TEST(!ec);
    out.resize(got);
    done = true;
  });
}

asio::awaitable<void> wait_forever() {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_duplex)

// The reader returns: the outbox is closed, flushes, and the writer ends with no error.
BOOST_AUTO_TEST_CASE(clean_end_flushes_then_returns_no_error) {
  asio::io_context ctx(1);
  stallable_pair p(ctx);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  for (int i = 0; i < 100; ++i) BOOST_TEST_REQUIRE(box->push(frame(1000, static_cast<char>('a' + i % 26))));
  std::string got;
  bool read = false;
  read_exactly(p.client, 100 * 1000, got, read);
  std::optional<std::error_code> result;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        result = co_await howdy::run_duplex(p.server, *box, []() -> asio::awaitable<void> { co_return; }());
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return read && result.has_value(); }));
  BOOST_TEST(!*result);
  BOOST_TEST(box->closed());
  BOOST_TEST(got.size() == 100'000u);
  BOOST_TEST(got.substr(99'000, 3) == "vvv");  // the last frame, in order
  BOOST_TEST(p.server.is_open());              // a clean end leaves the stream to its owner
}

// The peer resets while the writer has bytes for it: the writer fails with the
// socket's error and closes the stream, which ends the reader.
BOOST_AUTO_TEST_CASE(peer_resets) {
  asio::io_context ctx(1);
  stallable_pair p(ctx);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(box->push(frame(1000)));
  std::error_code read_end;
  std::optional<std::error_code> result;
  asio::co_spawn(
      ctx, [&]() -> asio::awaitable<void> { result = co_await howdy::run_duplex(p.server, *box, read_until_error(p.server, read_end)); },
      asio::detached);
  run_for(ctx, 20ms);
  BOOST_TEST_REQUIRE(!result.has_value());  // waiting on the full socket
  p.client.set_option(asio::socket_base::linger(true, 0));
  p.client.close();  // RST
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST_INFO("writer: " << result->message() << ", reader: " << read_end.message());
  BOOST_TEST((*result == asio::error::connection_reset || *result == asio::error::broken_pipe));
  BOOST_TEST(static_cast<bool>(read_end));
  BOOST_TEST(!p.server.is_open());
}

// A peer that does not read, with a small limit: the writer fails with
// slow_consumer and closes the stream, which ends the reader (no exception).
BOOST_AUTO_TEST_CASE(slow_peer_is_disconnected) {
  asio::io_context ctx(1);
  stallable_pair p(ctx);
  howdy::outbox_options options;
  options.max_bytes = 64 * 1024;
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor(), options);
  std::error_code read_end;
  std::optional<std::error_code> result;
  asio::co_spawn(
      ctx, [&]() -> asio::awaitable<void> { result = co_await howdy::run_duplex(p.server, *box, read_until_error(p.server, read_end)); },
      asio::detached);
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    refused = !box->push(frame(1000));
    ctx.restart();
    ctx.poll();
  }
  BOOST_TEST(refused);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(*result == howdy::error::slow_consumer);
  BOOST_TEST(read_end == asio::error::operation_aborted);  // its read was ended by the close
  BOOST_TEST(!p.server.is_open());
}

// A reader that is a deferred operation (here a timer wait), with a callback.
BOOST_AUTO_TEST_CASE(deferred_reader_and_a_callback) {
  asio::io_context ctx(1);
  stallable_pair p(ctx);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  BOOST_TEST_REQUIRE(box->push(frame(10)));
  std::string got;
  bool read = false;
  read_exactly(p.client, 10, got, read);
  asio::steady_timer reader(ctx, 20ms);
  std::optional<std::error_code> result;
  std::exception_ptr thrown;
  howdy::async_run_duplex(p.server, *box, reader.async_wait(asio::experimental::deferred), 1s,
                          [&](std::exception_ptr e, std::error_code ec) {
                            thrown = e;
                            result = ec;
                          });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return read && result.has_value(); }));
  BOOST_TEST(!thrown);
  BOOST_TEST(!*result);
  BOOST_TEST(box->closed());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(outbox_lifetime)

// The session (its coroutine frame owns the socket) ends while the writer
// waits for a peer that does not read; the outbox outlives it (a hub holds
// it, say). The wait that was pending completes later: it must not touch the
// socket, which is gone.
BOOST_AUTO_TEST_CASE(reader_throws_while_the_writer_waits_for_a_slow_peer) {
  asio::io_context ctx(1);
  stallable_pair p(ctx);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(box->push(frame(1000)));  // 1 MB, never read
  std::optional<std::exception_ptr> ended;
  asio::co_spawn(
      ctx,
      [&, box]() -> asio::awaitable<void> {
        tcp::socket session_socket = std::move(p.server);
        co_await howdy::run_duplex(session_socket, *box, throw_after(50ms));
      },
      [&](std::exception_ptr e) { ended = e; });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return ended.has_value(); }));
  BOOST_TEST_REQUIRE(static_cast<bool>(*ended));  // the reader's exception came through
  BOOST_CHECK_THROW(std::rethrow_exception(*ended), std::runtime_error);
  run_for(ctx, 50ms);
  // The writer was stopped (it is not waiting on a socket that is gone).
  BOOST_TEST(box->error() == asio::error::operation_aborted);
  BOOST_TEST(!box->push(frame(10)));
}

BOOST_AUTO_TEST_CASE(duplex_cancelled_while_the_writer_waits_for_a_slow_peer) {
  asio::io_context ctx(1);
  stallable_pair p(ctx);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(box->push(frame(1000)));
  asio::cancellation_signal cancel;
  std::optional<std::exception_ptr> ended;
  asio::co_spawn(
      ctx,
      [&, box]() -> asio::awaitable<void> {
        tcp::socket session_socket = std::move(p.server);
        co_await howdy::run_duplex(session_socket, *box, wait_forever());
      },
      asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { ended = e; }));
  run_for(ctx, 50ms);
  BOOST_TEST_REQUIRE(!ended.has_value());
  cancel.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return ended.has_value(); }));
  BOOST_TEST(static_cast<bool>(*ended));  // the reader's cancelled wait threw
  BOOST_TEST(box->error() == asio::error::operation_aborted);
  run_for(ctx, 50ms);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(async_run)

using strand_outbox = howdy::basic_outbox<asio::strand<asio::io_context::executor_type>>;

// A plain callback runs on the outbox's executor (a strand here), or on the
// executor it is bound to.
BOOST_AUTO_TEST_CASE(callback_completes_on_the_outbox_executor) {
  asio::io_context ctx(1), other(1);
  auto strand = asio::make_strand(ctx);
  howdy_test::recording_stream out(ctx.get_executor());
  auto box = std::make_shared<strand_outbox>(strand);
  std::optional<std::error_code> result;
  bool on_strand = false;
  box->async_run(out, [&](std::error_code ec) {
    on_strand = strand.running_in_this_thread();
    result = ec;
  });
  asio::post(strand, [&] {
    box->push(frame(10));
    box->close();
  });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(!*result);
  BOOST_TEST(on_strand);
  BOOST_TEST(out.bytes() == std::string(10, 'x'));

  auto box2 = std::make_shared<howdy::outbox>(ctx.get_executor());
  std::optional<std::error_code> result2;
  bool on_other = false;
  box2->async_run(out, asio::bind_executor(other, [&](std::error_code ec) {
                    on_other = other.get_executor().running_in_this_thread();
                    result2 = ec;
                  }));
  box2->fail(howdy::error::outbox_closed);
  ctx.restart();
  ctx.poll();
  BOOST_TEST(!result2.has_value());  // not on ctx
  BOOST_TEST_REQUIRE(run_until(other, [&] { return result2.has_value(); }));
  BOOST_TEST(on_other);
  BOOST_TEST(*result2 == howdy::error::outbox_closed);
}

BOOST_AUTO_TEST_CASE(a_finished_outbox_never_completes_inside_async_run) {
  asio::io_context ctx(1);
  howdy_test::recording_stream out(ctx.get_executor());
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  box->close();  // nothing queued: finished at once
  std::optional<std::error_code> result;
  bool returned_first = false;
  asio::post(ctx, [&] {  // initiated on the outbox's own executor
    box->async_run(out, [&](std::error_code ec) { result = ec; });
    returned_first = !result.has_value();
  });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(returned_first);
  BOOST_TEST(!*result);
}

BOOST_AUTO_TEST_CASE(use_awaitable_throws_why_it_failed) {
  asio::io_context ctx(1);
  howdy_test::recording_stream out(ctx.get_executor());
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  std::optional<std::error_code> result;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        try {
          co_await box->async_run(out, asio::use_awaitable);
          result = std::error_code{};
        } catch (const std::system_error& e) {
          result = e.code();
        }
      },
      asio::detached);
  ctx.poll();
  box->fail(howdy::error::slow_consumer);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(*result == howdy::error::slow_consumer);

  // A clean flush does not throw.
  auto clean = std::make_shared<howdy::outbox>(ctx.get_executor());
  clean->push(frame(3));
  clean->close();
  bool done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await clean->async_run(out, asio::use_awaitable);
        done = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done; }));
  BOOST_TEST(out.bytes() == "xxx");
}

// Deferred: nothing starts until the operation is launched.
BOOST_AUTO_TEST_CASE(deferred_starts_when_launched) {
  asio::io_context ctx(1);
  howdy_test::recording_stream out(ctx.get_executor());
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  box->push(frame(4));
  auto op = box->async_run(out, asio::experimental::deferred);
  ctx.poll();
  BOOST_TEST(box->write_calls() == 0u);
  {
    auto unused = box->async_run(out, asio::experimental::deferred);  // dropped unlaunched: no effect
  }
  std::optional<std::error_code> result;
  std::move(op)([&](std::error_code ec) { result = ec; });
  ctx.restart();
  ctx.poll();
  BOOST_TEST(box->write_calls() == 1u);
  BOOST_TEST(out.bytes() == "xxxx");
  BOOST_TEST(!result.has_value());  // not closed yet
  box->close();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(!*result);
}

// Terminal cancellation stops the writer stuck on a slow peer: the outbox
// fails with operation_aborted, the stream stays open and untouched (it may
// be destroyed at once). Partial cancellation is not supported: ignored.
BOOST_AUTO_TEST_CASE(cancellation_slot) {
  asio::io_context ctx(1);
  stallable_pair p(ctx);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(box->push(frame(1000)));
  asio::cancellation_signal cancel;
  std::optional<std::error_code> result;
  box->async_run(p.server, asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec) { result = ec; }));
  run_for(ctx, 20ms);
  BOOST_TEST_REQUIRE(!result.has_value());
  cancel.emit(asio::cancellation_type::partial);
  run_for(ctx, 20ms);
  BOOST_TEST(!result.has_value());
  cancel.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(*result == asio::error::operation_aborted);
  BOOST_TEST(box->error() == asio::error::operation_aborted);
  const auto writes = box->write_calls();
  BOOST_TEST(p.server.is_open());
  BOOST_TEST(!box->push(frame(1)));
  p.server.close();  // the pending wait completes (aborted) and finds the writer detached
  run_for(ctx, 20ms);
  BOOST_TEST(box->write_calls() == writes);
  BOOST_TEST(box->queued_frames() == 0u);  // the batch that was in flight is released
}

BOOST_AUTO_TEST_SUITE_END()
