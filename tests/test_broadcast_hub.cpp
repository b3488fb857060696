// broadcast_hub and outbox: fan-out to 1000 loopback subscribers with a stalled
// one (disconnect / drop_oldest), multi-threaded partitions (strands and an
// io_context_pool), one gather write per burst, no copy per subscriber,
// outbox close(), outbox hold()/release(), state frames (push_state,
// publish_state) and write boundaries.

#include <boost/test/unit_test.hpp>

#include "test_streams.hpp"

#include <howdy/broadcast_hub.hpp>
#include <howdy/codec/length_prefixed.hpp>
#include <howdy/framed_reader.hpp>
#include <howdy/io_context_pool.hpp>
#include <howdy/outbox.hpp>
#include <howdy/shared_buffer.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// --- frames: u32 length, then 'M' publisher seq(8) padding, or 'D' count(8) --

void put_be(std::span<std::byte> out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) out[i] = std::byte(v >> (8 * (bytes - 1 - i)) & 0xFF);
}
std::uint64_t get_be(std::span<const std::byte> in, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v = v << 8 | std::to_integer<std::uint64_t>(in[i]);
  return v;
}

constexpr std::size_t min_message = 4 + 1 + 1 + 8;

howdy::shared_buffer message(std::uint8_t publisher, std::uint64_t seq, std::size_t size = 100) {
  return howdy::shared_buffer::make(size, [&](std::span<std::byte> out) {
    put_be(out, size - 4, 4);
    out[4] = std::byte{'M'};
    out[5] = std::byte{publisher};
    put_be(out.subspan(6), seq, 8);
    for (std::size_t i = min_message; i < size; ++i) out[i] = std::byte(seq + i);
  });
}

howdy::shared_buffer drop_notice(std::uint64_t dropped) {
  return howdy::shared_buffer::make(4 + 1 + 8, [&](std::span<std::byte> out) {
    put_be(out, 9, 4);
    out[4] = std::byte{'D'};
    put_be(out.subspan(5), dropped, 8);
  });
}

struct parsed {
  char kind;
  std::uint8_t publisher = 0;
  std::uint64_t value = 0;  // seq, or the dropped count
};

parsed parse(std::span<const std::byte> payload) {
  BOOST_REQUIRE(payload.size() >= 9);  // checked where Boost.Test may be used: the caller's thread
  const char kind = static_cast<char>(payload[0]);
  if (kind == 'D') return {kind, 0, get_be(payload.subspan(1), 8)};
  return {kind, std::to_integer<std::uint8_t>(payload[1]), get_be(payload.subspan(2), 8)};
}

// Thread-safe variant: no Boost.Test inside.
std::optional<parsed> parse_quiet(std::span<const std::byte> payload) {
  if (payload.size() < 10 || static_cast<char>(payload[0]) != 'M') return std::nullopt;
  return parsed{'M', std::to_integer<std::uint8_t>(payload[1]), get_be(payload.subspan(2), 8)};
}

void raise_fd_limit(std::size_t needed) {
  ::rlimit rl{};
  BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = rl.rlim_max;
  BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &rl) == 0);
  BOOST_TEST_REQUIRE(rl.rlim_cur >= needed, "RLIMIT_NOFILE hard limit " << rl.rlim_max << " < " << needed);
}

tcp::endpoint loopback() { return {asio::ip::make_address("127.0.0.1"), 0}; }

// Connects a client to `acceptor`, accepting into `server`.
void connect_pair(tcp::acceptor& acceptor, tcp::socket& client, tcp::socket& server) {
  if (!client.is_open()) client.open(tcp::v4());
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
}

// Like connect_pair, with 2 KB kernel buffers each way: a client that stops
// reading stalls the server's writer after a few KB.
void connect_stallable_pair(tcp::acceptor& acceptor, tcp::socket& client, tcp::socket& server) {
  client.open(tcp::v4());
  client.set_option(asio::socket_base::receive_buffer_size(2048));
  connect_pair(acceptor, client, server);
  server.set_option(asio::socket_base::send_buffer_size(2048));
}

// --- (a) 1000 subscribers, one stalled ----------------------------------------

struct subscriber_result {
  std::uint64_t received = 0;
  std::uint64_t next_seq = 0;
  bool in_order = true;
  std::error_code end;  // how its reading ended, if it ended before all messages
};

void fanout_with_a_stalled_subscriber(howdy::overflow_policy policy) {
  constexpr std::size_t subscribers = 1000;
  constexpr std::uint64_t messages = 500;  // 50 KB each: far more than the stalled one can absorb
  constexpr std::size_t stalled = 0;
  constexpr std::size_t per_round = 20;  // the publisher yields after so many (2 KB per subscriber)
  raise_fd_limit(2 * subscribers + 64);

  asio::io_context ctx(1);
  tcp::acceptor acceptor(ctx, loopback());
  std::vector<tcp::socket> clients, servers;
  clients.reserve(subscribers);
  servers.reserve(subscribers);
  for (std::size_t i = 0; i < subscribers; ++i) {
    clients.emplace_back(ctx);
    servers.emplace_back(ctx);
    if (i == stalled)  // so that its outbox fills up soon
      connect_stallable_pair(acceptor, clients.back(), servers.back());
    else
      connect_pair(acceptor, clients.back(), servers.back());
  }

  howdy::broadcast_hub hub({ctx.get_executor()});
  howdy::outbox_options opts;
  opts.max_bytes = 8 * 1024;  // 80 messages: the stalled one overflows, the live ones never get near
  opts.policy = policy;
  opts.drop_notice = drop_notice;

  std::vector<std::shared_ptr<howdy::outbox>> boxes;
  std::vector<howdy::broadcast_hub::subscription> subs;
  std::vector<std::optional<std::error_code>> run_result(subscribers);
  for (std::size_t i = 0; i < subscribers; ++i) {
    boxes.push_back(std::make_shared<howdy::outbox>(ctx.get_executor(), opts));
    subs.push_back(hub.subscribe(*boxes.back()));
    asio::co_spawn(
        ctx,
        [&, i, box = boxes.back()]() -> asio::awaitable<void> { run_result[i] = co_await box->run(servers[i]); },
        asio::detached);
  }
  BOOST_TEST_REQUIRE(hub.subscriber_count() == subscribers);

  std::vector<subscriber_result> results(subscribers);
  std::size_t live_done = 0;
  bool published = false;
  bool stalled_done = false;
  std::vector<parsed> stalled_frames;

  auto finish_if_done = [&] {
    if (live_done < subscribers - 1 || !published) return;
    if (policy == howdy::overflow_policy::drop_oldest && !stalled_done) return;
    for (auto& box : boxes) box->close();
  };

  auto read_live = [&](std::size_t i) -> asio::awaitable<void> {
    howdy::framed_reader reader(clients[i], howdy::codec::u32_length_prefixed{});
    auto& r = results[i];
    while (r.received < messages) {
      auto [ec, f] = co_await reader.async_next(as_tuple_awaitable);
      if (ec) {
        r.end = ec;
        break;
      }
      auto m = parse_quiet(f.payload);
      r.in_order = r.in_order && m && m->value == r.next_seq;
      r.next_seq = m ? m->value + 1 : r.next_seq;
      ++r.received;
    }
    ++live_done;
    finish_if_done();
  };

  // The stalled subscriber: reads only once everything has been published.
  auto read_stalled = [&]() -> asio::awaitable<void> {
    howdy::framed_reader reader(clients[stalled], howdy::codec::u32_length_prefixed{});
    for (;;) {
      auto [ec, f] = co_await reader.async_next(as_tuple_awaitable);
      if (ec) {
        results[stalled].end = ec;
        break;
      }
      stalled_frames.push_back(parse(f.payload));
      if (stalled_frames.back().kind == 'M' && stalled_frames.back().value == messages - 1) break;
    }
    stalled_done = true;
    finish_if_done();
  };

  for (std::size_t i = 0; i < subscribers; ++i)
    if (i != stalled) asio::co_spawn(ctx, read_live(i), asio::detached);

  std::size_t stalled_queued_when_published = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (std::uint64_t seq = 0; seq < messages; ++seq) {
          hub.publish(message(0, seq));
          if (seq % per_round == per_round - 1) co_await asio::post(ctx, asio::use_awaitable);
        }
        // Let the last publish reach the outboxes.
        co_await asio::post(ctx, asio::use_awaitable);
        co_await asio::post(ctx, asio::use_awaitable);
        published = true;
        stalled_queued_when_published = boxes[stalled]->queued_frames();
        if (policy == howdy::overflow_policy::drop_oldest) asio::co_spawn(ctx, read_stalled(), asio::detached);
        finish_if_done();
      },
      asio::detached);

  ctx.run_for(45s);  // the watchdog: returns early once every writer has ended
  BOOST_TEST_REQUIRE(published, "the publisher did not finish");
  BOOST_TEST_REQUIRE(live_done == subscribers - 1, "only " << live_done << " live subscribers finished");

  for (std::size_t i = 0; i < subscribers; ++i) {
    if (i == stalled) continue;
    BOOST_TEST_CONTEXT("subscriber " << i) {
      BOOST_TEST(results[i].received == messages);
      BOOST_TEST(results[i].in_order);
      BOOST_TEST(!results[i].end);
      BOOST_TEST_REQUIRE(run_result[i].has_value());
      BOOST_TEST(!*run_result[i]);  // closed after flushing
      BOOST_TEST(boxes[i]->dropped_frames() == 0u);
    }
  }

  if (policy == howdy::overflow_policy::disconnect) {
    BOOST_TEST_REQUIRE(run_result[stalled].has_value());
    BOOST_TEST(*run_result[stalled] == howdy::error::slow_consumer);
    BOOST_TEST(boxes[stalled]->error() == howdy::error::slow_consumer);
    BOOST_TEST(!boxes[stalled]->push(message(0, messages)));  // nothing more is accepted
    // What it did get before the cut is a prefix, in order; then the connection ends.
    ctx.restart();
    bool read_done = false;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          co_await read_stalled();
          read_done = true;
        },
        asio::detached);
    ctx.run_for(10s);
    BOOST_TEST_REQUIRE(read_done);
    BOOST_TEST(stalled_frames.size() < messages);
    for (std::size_t k = 0; k < stalled_frames.size(); ++k) BOOST_TEST_REQUIRE(stalled_frames[k].value == k);
    BOOST_TEST(results[stalled].end != std::error_code{});
  } else {
    BOOST_TEST_REQUIRE(stalled_done, "the stalled subscriber did not get the last message");
    BOOST_TEST(!results[stalled].end);
    BOOST_TEST_REQUIRE(run_result[stalled].has_value());
    BOOST_TEST(!*run_result[stalled]);  // still connected; closed after flushing
    const auto dropped = boxes[stalled]->dropped_frames();
    BOOST_TEST(dropped > 0u);
    BOOST_TEST(stalled_queued_when_published > 0u);
    // Messages before the notice are 0..a-1, after it b..N-1, and the notice says b - a.
    std::uint64_t expect = 0, notices = 0, notified = 0, got = 0;
    for (auto& f : stalled_frames) {
      if (f.kind == 'D') {
        ++notices;
        notified += f.value;
        expect += f.value;
        continue;
      }
      BOOST_TEST_REQUIRE(f.value == expect, "got message " << f.value << ", expected " << expect);
      ++expect;
      ++got;
    }
    BOOST_TEST(notices >= 1u);
    BOOST_TEST(notified == dropped);
    BOOST_TEST(got + dropped == messages);
    BOOST_TEST(expect == messages);
  }
  subs.clear();
  BOOST_TEST(hub.subscriber_count() == 0u);
}

// --- (b) multi-threaded partitions ------------------------------------------

struct threaded_subscriber {
  tcp::socket client, server;
  std::shared_ptr<howdy::outbox> box;
  howdy::broadcast_hub::subscription sub;
  std::vector<std::uint64_t> next;  // per publisher
  std::uint64_t received = 0;
  bool in_order = true;
  std::error_code end;
  std::optional<std::error_code> run_result;
  threaded_subscriber(asio::io_context& server_ctx, asio::io_context& client_ctx) : client(client_ctx), server(server_ctx) {}
};

// Subscribers are spread over `partitions` (subscriber i on partition i % n,
// its socket on `context_of(i)`); `publishers` threads publish concurrently.
template <class ContextOf>
void fanout_multithreaded(std::vector<asio::any_io_executor> partitions, ContextOf context_of,
                          const std::function<void()>& start_threads, const std::function<void()>& stop_threads) {
  constexpr std::size_t subscribers = 40;
  constexpr std::size_t publishers = 3;
  constexpr std::uint64_t messages = 2000;  // per publisher
  raise_fd_limit(2 * subscribers + 64);

  asio::io_context setup_ctx(1);
  tcp::acceptor acceptor(setup_ctx, loopback());
  howdy::broadcast_hub hub(partitions);
  std::vector<std::unique_ptr<threaded_subscriber>> subs;
  for (std::size_t i = 0; i < subscribers; ++i) {
    subs.push_back(std::make_unique<threaded_subscriber>(context_of(i), context_of(i)));
    connect_pair(acceptor, subs.back()->client, subs.back()->server);
    subs.back()->next.assign(publishers, 0);
  }

  std::atomic<std::size_t> done{0};
  std::promise<void> all_done;
  std::latch subscribed(subscribers);
  std::promise<void> all_closed;
  std::atomic<std::size_t> closed{0};

  start_threads();
  for (std::size_t i = 0; i < subscribers; ++i) {
    auto& s = *subs[i];
    const auto ex = partitions[i % partitions.size()];
    howdy::outbox_options opts;
    opts.max_bytes = 64 * 1024 * 1024;  // the fan-out is under test here, not overflow
    s.box = std::make_shared<howdy::outbox>(ex, opts);
    asio::post(ex, [&] {
      s.sub = hub.subscribe(*s.box);  // on the outbox's executor
      subscribed.count_down();
    });
    asio::co_spawn(
        ex,
        [&, box = s.box]() -> asio::awaitable<void> {
          s.run_result = co_await box->run(s.server);
          if (++closed == subscribers) all_closed.set_value();
        },
        asio::detached);
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          howdy::framed_reader reader(s.client, howdy::codec::u32_length_prefixed{});
          while (s.received < publishers * messages) {
            auto [ec, f] = co_await reader.async_next(as_tuple_awaitable);
            if (ec) {
              s.end = ec;
              break;
            }
            auto m = parse_quiet(f.payload);
            if (!m || m->publisher >= publishers) {
              s.in_order = false;
              break;
            }
            s.in_order = s.in_order && m->value == s.next[m->publisher];
            s.next[m->publisher] = m->value + 1;
            ++s.received;
          }
          if (++done == subscribers) all_done.set_value();
        },
        asio::detached);
  }
  subscribed.wait();
  BOOST_TEST_REQUIRE(hub.subscriber_count() == subscribers);

  std::vector<std::thread> pubs;
  for (std::size_t p = 0; p < publishers; ++p)
    pubs.emplace_back([&, p] {
      for (std::uint64_t seq = 0; seq < messages; ++seq) hub.publish(message(static_cast<std::uint8_t>(p), seq, 64));
    });
  for (auto& t : pubs) t.join();

  auto finished = all_done.get_future();
  const bool ok = finished.wait_for(40s) == std::future_status::ready;
  bool closed_ok = false;
  if (ok) {
    for (std::size_t i = 0; i < subscribers; ++i)
      asio::post(subs[i]->box->get_executor(), [&s = *subs[i]] {
        s.sub.reset();  // on the outbox's executor
        s.box->close();
      });
    closed_ok = all_closed.get_future().wait_for(20s) == std::future_status::ready;
  }
  stop_threads();
  BOOST_TEST_REQUIRE(ok, "only " << done.load() << " subscribers got everything in time");
  BOOST_TEST(closed_ok);
  BOOST_TEST(hub.subscriber_count() == 0u);
  for (std::size_t i = 0; i < subscribers; ++i) {
    auto& s = *subs[i];
    BOOST_TEST_CONTEXT("subscriber " << i) {
      BOOST_TEST(s.received == publishers * messages);
      BOOST_TEST(s.in_order);
      BOOST_TEST(!s.end);
      for (std::size_t p = 0; p < publishers; ++p) BOOST_TEST(s.next[p] == messages);
      BOOST_TEST_REQUIRE(s.run_result.has_value());
      BOOST_TEST(!*s.run_result);
    }
  }
  // Sockets and outboxes go before the contexts they use (the caller's).
  subs.clear();
}

using howdy_test::run_until;

struct socket_pair {
  tcp::socket server, client;
  explicit socket_pair(asio::io_context& ctx) : server(ctx), client(ctx) {
    tcp::acceptor acceptor(ctx, loopback());
    connect_pair(acceptor, client, server);
  }
};

// Reads exactly `n` bytes from `s` into `out`.
asio::awaitable<void> read_bytes(tcp::socket& s, std::size_t n, std::string& out, std::error_code& ec) {
  out.resize(n);
  auto [e, got] = co_await asio::async_read(s, asio::buffer(out), as_tuple_awaitable);
  ec = e;
  out.resize(got);
}

// The frames in `bytes` (as written to a recording_stream).
std::vector<parsed> parse_all(const std::string& bytes) {
  std::vector<parsed> frames;
  for (std::size_t at = 0; at + 4 <= bytes.size();) {
    const auto len = get_be(std::as_bytes(std::span(bytes.data() + at, 4)), 4);
    BOOST_TEST_REQUIRE(at + 4 + len <= bytes.size());
    frames.push_back(parse(std::as_bytes(std::span(bytes.data() + at + 4, len))));
    at += 4 + len;
  }
  return frames;
}

// "p.s" per message frame (publisher.seq), "D<n>" per drop notice: easy to compare.
std::vector<std::string> labels(const std::string& bytes) {
  std::vector<std::string> out;
  for (auto& f : parse_all(bytes)) {
    // Appended, not `"D" + std::to_string(...)`: GCC 12 warns (-Wrestrict, a
    // false positive) about operator+ on a temporary in optimized builds.
    std::string label = f.kind == 'D' ? std::string("D") : std::to_string(f.publisher).append(".");
    out.push_back(label.append(std::to_string(f.value)));
  }
  return out;
}

// An outbox writing to a test stream, on a single-threaded io_context.
template <class Stream>
struct basic_recorded_outbox {
  asio::io_context ctx{1};
  Stream out{ctx.get_executor()};
  std::shared_ptr<howdy::outbox> box;
  std::optional<std::error_code> result;
  bool started = false;

  explicit basic_recorded_outbox(howdy::outbox_options o = {})
      : box(std::make_shared<howdy::outbox>(ctx.get_executor(), o)) {}
  // The writer must end before the outbox goes: a suspended run() refers to it.
  ~basic_recorded_outbox() {
    if (!started || result) return;
    box->fail(asio::error::operation_aborted);
    run_until(ctx, [&] { return result.has_value(); });
  }
  void start() {
    started = true;
    asio::co_spawn(ctx, [this]() -> asio::awaitable<void> { result = co_await box->run(out); }, asio::detached);
  }
  // Runs every handler that is ready: whatever can be written is written.
  void settle() {
    ctx.restart();
    ctx.poll();
  }
};
using recorded_outbox = basic_recorded_outbox<howdy_test::recording_stream>;
using gated_outbox = basic_recorded_outbox<howdy_test::gated_stream>;

// Per write a howdy_test::gated_stream accepted, the labels of its frames: "1.2 0.0".
std::vector<std::string> write_labels(const howdy_test::gated_stream& s) {
  std::vector<std::string> out;
  for (auto& w : s.writes()) {
    std::string line;
    for (auto& l : labels(w)) line.append(line.empty() ? "" : " ").append(l);
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broadcast_hub)

BOOST_AUTO_TEST_CASE(stalled_subscriber_is_disconnected_others_get_everything) {
  fanout_with_a_stalled_subscriber(howdy::overflow_policy::disconnect);
}

BOOST_AUTO_TEST_CASE(stalled_subscriber_drops_oldest_and_is_told) {
  fanout_with_a_stalled_subscriber(howdy::overflow_policy::drop_oldest);
}

BOOST_AUTO_TEST_CASE(one_io_context_four_threads_strand_partitions) {
  asio::io_context ctx(4);
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::vector<asio::any_io_executor> strands;
  for (int i = 0; i < 4; ++i) strands.push_back(asio::make_strand(ctx));
  fanout_multithreaded(
      strands, [&](std::size_t) -> asio::io_context& { return ctx; },
      [&] {
        work.emplace(ctx.get_executor());
        for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ctx.run(); });
      },
      [&] {
        work.reset();
        ctx.stop();
        for (auto& t : threads) t.join();
      });
}

BOOST_AUTO_TEST_CASE(io_context_pool_partitions) {
  howdy::io_context_pool pool(4);
  std::thread runner;
  fanout_multithreaded(
      pool.executors(), [&](std::size_t i) -> asio::io_context& { return pool.context(i % pool.size()); },
      [&] { runner = std::thread([&] { pool.run(); }); },
      [&] {
        pool.stop();
        runner.join();
      });
}

BOOST_AUTO_TEST_CASE(one_gather_write_drains_a_burst) {
  asio::io_context ctx(1);
  constexpr std::size_t burst = 500;
  for (bool writer_waiting_first : {false, true}) {
    BOOST_TEST_CONTEXT((writer_waiting_first ? "writer idle, then a burst" : "burst before the writer runs")) {
      socket_pair p(ctx);
      p.server.set_option(asio::socket_base::send_buffer_size(4 * 1024 * 1024));
      p.client.set_option(asio::socket_base::receive_buffer_size(4 * 1024 * 1024));
      auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
      std::string expected;
      auto push_burst = [&] {
        for (std::size_t i = 0; i < burst; ++i) {
          auto m = message(0, i, 100);
          expected.append(reinterpret_cast<const char*>(m.data()), m.size());
          BOOST_TEST_REQUIRE(box->push(std::move(m)));
        }
      };
      std::optional<std::error_code> result;
      if (!writer_waiting_first) push_burst();
      asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { result = co_await box->run(p.server); }, asio::detached);
      ctx.restart();
      ctx.poll();  // the writer starts (and, with nothing queued, waits)
      BOOST_TEST(box->write_calls() == (writer_waiting_first ? 0u : 1u));
      if (writer_waiting_first) asio::post(ctx, push_burst);  // one handler pushes the whole burst
      std::string got;
      std::error_code ec;
      bool read = false;
      asio::co_spawn(
          ctx,
          [&]() -> asio::awaitable<void> {
            co_await read_bytes(p.client, burst * 100, got, ec);
            read = true;
          },
          asio::detached);
      BOOST_TEST_REQUIRE(run_until(ctx, [&] { return read; }));
      BOOST_TEST(!ec);
      BOOST_TEST((got == expected));
      BOOST_TEST(box->write_calls() == 1u);
      BOOST_TEST(box->queued_frames() == 0u);
      box->close();
      BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
      BOOST_TEST(!*result);
    }
  }
}

BOOST_AUTO_TEST_CASE(same_bytes_queued_everywhere_without_copy) {
  asio::io_context ctx(1);
  constexpr std::size_t n = 50;
  howdy::broadcast_hub hub({ctx.get_executor()});
  std::vector<std::unique_ptr<howdy_test::recording_stream>> streams;
  std::vector<std::shared_ptr<howdy::outbox>> boxes;
  std::vector<howdy::broadcast_hub::subscription> subs;
  std::size_t finished = 0;
  for (std::size_t i = 0; i < n; ++i) {
    streams.push_back(std::make_unique<howdy_test::recording_stream>(ctx.get_executor()));
    boxes.push_back(std::make_shared<howdy::outbox>(ctx.get_executor()));
    subs.push_back(hub.subscribe(*boxes.back()));
    asio::co_spawn(
        ctx,
        [&, i, box = boxes.back()]() -> asio::awaitable<void> {
          auto ec = co_await box->run(*streams[i]);
          if (!ec) ++finished;
        },
        asio::detached);
  }
  const auto a = message(1, 1, 1000);
  const auto b = message(1, 2, 300);
  hub.publish(a);
  hub.publish(b, boxes[7].get());  // everyone but subscriber 7
  ctx.poll();
  for (auto& box : boxes) box->close();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return finished == n; }));
  for (std::size_t i = 0; i < n; ++i) {
    BOOST_TEST_CONTEXT("subscriber " << i) {
      std::vector<const void*> seen;
      for (auto& call : streams[i]->writes())
        for (auto& piece : call) seen.push_back(piece.data);
      std::vector<const void*> want{a.data()};
      if (i != 7) want.push_back(b.data());
      BOOST_TEST((seen == want));  // the shared bytes themselves, not copies
      BOOST_TEST(streams[i]->bytes().size() == (i == 7 ? 1000u : 1300u));
    }
  }
}

BOOST_AUTO_TEST_CASE(unsubscribing_stops_delivery) {
  asio::io_context ctx(1);
  howdy::broadcast_hub hub({ctx.get_executor()});
  std::vector<std::shared_ptr<howdy::outbox>> boxes;
  std::vector<howdy::broadcast_hub::subscription> subs;
  for (int i = 0; i < 4; ++i) {
    boxes.push_back(std::make_shared<howdy::outbox>(ctx.get_executor()));
    subs.push_back(hub.subscribe(*boxes.back()));
  }
  subs[1].reset();
  subs[0] = std::move(subs[3]);  // moving a subscription over another one leaves that one
  BOOST_TEST(hub.subscriber_count() == 2u);
  hub.publish(message(0, 0));
  ctx.poll();
  BOOST_TEST(boxes[0]->queued_frames() == 0u);
  BOOST_TEST(boxes[1]->queued_frames() == 0u);
  BOOST_TEST(boxes[2]->queued_frames() == 1u);
  BOOST_TEST(boxes[3]->queued_frames() == 1u);
  // An outbox whose executor is not a partition is refused.
  asio::io_context other(1);
  howdy::outbox stranger(other.get_executor());
  BOOST_CHECK_THROW((void)hub.subscribe(stranger), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(close_flushes_then_run_returns_no_error) {
  asio::io_context ctx(1);
  socket_pair p(ctx);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    auto m = message(0, i, 1000);
    expected.append(reinterpret_cast<const char*>(m.data()), m.size());
    box->push(m);
  }
  box->close();
  BOOST_TEST(box->closed());
  BOOST_TEST(!box->push(message(0, 100)));  // nothing more after close
  std::optional<std::error_code> result;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { result = co_await box->run(p.server); }, asio::detached);
  std::string got;
  std::error_code ec;
  bool read = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await read_bytes(p.client, expected.size(), got, ec);
        read = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return read && result.has_value(); }));
  BOOST_TEST(!*result);
  BOOST_TEST((got == expected));

  // Closing an idle writer ends it at once.
  socket_pair q(ctx);
  auto idle = std::make_shared<howdy::outbox>(ctx.get_executor());
  std::optional<std::error_code> idle_result;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { idle_result = co_await idle->run(q.server); }, asio::detached);
  ctx.restart();
  ctx.poll();
  BOOST_TEST(!idle_result.has_value());
  idle->close();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return idle_result.has_value(); }));
  BOOST_TEST(!*idle_result);
}

BOOST_AUTO_TEST_CASE(close_with_a_stalled_peer_ends_after_the_grace) {
  asio::io_context ctx(1);
  tcp::acceptor acceptor(ctx, loopback());
  tcp::socket client(ctx), server(ctx);
  connect_stallable_pair(acceptor, client, server);
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(box->push(message(0, i, 1000)));  // 1 MB, never read
  std::optional<std::error_code> result;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { result = co_await box->run(server); }, asio::detached);
  ctx.poll();
  BOOST_TEST(!result.has_value());  // stuck on the full socket
  const auto start = std::chrono::steady_clock::now();
  box->close(200ms);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(*result == howdy::error::shutting_down);
  BOOST_TEST(box->error() == howdy::error::shutting_down);
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 200ms));  // not before the grace
  BOOST_TEST(!server.is_open());  // the writer stopped waiting for the peer
}

BOOST_AUTO_TEST_CASE(drop_oldest_in_memory) {
  // Nothing written yet (no writer): pushing past the limit drops the oldest
  // queued frames, and the writer sends a notice with their count first.
  asio::io_context ctx(1);
  howdy::outbox_options opts;
  opts.max_bytes = 1000;
  opts.policy = howdy::overflow_policy::drop_oldest;
  opts.drop_notice = drop_notice;
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor(), opts);
  for (int i = 0; i < 25; ++i) BOOST_TEST_REQUIRE(box->push(message(0, i, 100)));
  BOOST_TEST(box->queued_frames() == 10u);
  BOOST_TEST(box->dropped_frames() == 15u);
  BOOST_TEST(box->queued_bytes() <= 1000u);
  BOOST_TEST(!box->push(message(0, 99, 1001)));  // larger than the whole outbox
  BOOST_TEST(box->error() == howdy::error::slow_consumer);

  auto box2 = std::make_shared<howdy::outbox>(ctx.get_executor(), opts);
  for (int i = 0; i < 25; ++i) box2->push(message(0, i, 100));
  box2->close();
  howdy_test::recording_stream out(ctx.get_executor());
  std::optional<std::error_code> result;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { result = co_await box2->run(out); }, asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(!*result);
  // Parse what was written.
  const auto& bytes = out.bytes();
  std::vector<parsed> frames;
  for (std::size_t at = 0; at + 4 <= bytes.size();) {
    const auto len = get_be(std::as_bytes(std::span(bytes.data() + at, 4)), 4);
    frames.push_back(parse(std::as_bytes(std::span(bytes.data() + at + 4, len))));
    at += 4 + len;
  }
  BOOST_TEST_REQUIRE(frames.size() == 11u);
  BOOST_TEST(frames[0].kind == 'D');
  BOOST_TEST(frames[0].value == 15u);
  for (std::size_t i = 1; i < frames.size(); ++i) BOOST_TEST(frames[i].value == 14u + i);
}

BOOST_AUTO_TEST_CASE(drop_oldest_keeps_a_subscriber_stalled_mid_batch) {
  // A burst as large as the outbox goes out as one batch and the peer stops
  // reading: the batch stays in flight. Later frames must displace older
  // queued ones (drop_oldest), not cut the subscriber off.
  asio::io_context ctx(1);
  tcp::acceptor acceptor(ctx, loopback());
  tcp::socket client(ctx), server(ctx);
  connect_stallable_pair(acceptor, client, server);
  howdy::outbox_options opts;
  opts.max_bytes = 64 * 1000;
  opts.policy = howdy::overflow_policy::drop_oldest;
  opts.drop_notice = drop_notice;
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor(), opts);
  constexpr std::uint64_t burst = 640, later = 500;
  for (std::uint64_t i = 0; i < burst; ++i) BOOST_TEST_REQUIRE(box->push(message(0, i, 100)));
  std::optional<std::error_code> result;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { result = co_await box->run(server); }, asio::detached);
  ctx.poll();  // the writer takes the whole burst and blocks on the full socket
  BOOST_TEST_REQUIRE(!result.has_value());
  for (std::uint64_t i = burst; i < burst + later; ++i) BOOST_TEST_REQUIRE(box->push(message(0, i, 100)), "frame " << i);
  BOOST_TEST(!box->error());
  BOOST_TEST(box->dropped_frames() > 0u);
  // The peer reads again: the burst, then the notice, then the newest frames.
  std::vector<parsed> frames;
  bool read = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        howdy::framed_reader reader(client, howdy::codec::u32_length_prefixed{});
        for (;;) {
          auto [ec, f] = co_await reader.async_next(as_tuple_awaitable);
          if (ec) break;
          frames.push_back(parse(f.payload));
          if (frames.back().kind == 'M' && frames.back().value == burst + later - 1) break;
        }
        read = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return read; }));
  std::uint64_t expect = 0, notified = 0;
  for (auto& f : frames) {
    if (f.kind == 'D') {
      BOOST_TEST(expect == burst);  // the whole burst was in flight, so the drops come after it
      notified += f.value;
      expect += f.value;
      continue;
    }
    BOOST_TEST_REQUIRE(f.value == expect);
    ++expect;
  }
  BOOST_TEST(expect == burst + later);
  BOOST_TEST(notified == box->dropped_frames());
  box->close();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(!*result);
}

// --- outbox hold() and release() ---------------------------------------------
// Frames: publisher 0 pushed before hold(), 1 handed to release() as `ahead`, 2 pushed while held.

BOOST_AUTO_TEST_CASE(held_frames_wait_for_release) {
  recorded_outbox t;
  t.start();
  BOOST_TEST_REQUIRE(t.box->push(message(0, 0)));
  t.box->hold();
  BOOST_TEST(t.box->held());
  for (int i = 0; i < 3; ++i) BOOST_TEST_REQUIRE(t.box->push(message(2, i)));
  t.settle();
  // What was pushed before hold() goes out; the rest waits, counted as queued.
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0"}), boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_frames() == 3u);
  BOOST_TEST(t.box->queued_bytes() == 300u);
  t.settle();
  BOOST_TEST(t.out.bytes().size() == 100u);
  t.box->release();
  BOOST_TEST(!t.box->held());
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "2.0", "2.1", "2.2"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_frames() == 0u);
  BOOST_TEST(t.box->queued_bytes() == 0u);
  t.box->close();
  BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
  BOOST_TEST(!*t.result);
}

BOOST_AUTO_TEST_CASE(hold_does_not_stop_a_batch_already_taken) {
  recorded_outbox t;
  for (int i = 0; i < 3; ++i) t.box->push(message(0, i));
  t.start();
  // Step until the flush has taken the three frames and started writing them
  // (the recording stream sees a write when it starts; it completes later).
  while (t.out.writes().empty() && t.ctx.poll_one() > 0) {
  }
  BOOST_TEST_REQUIRE(t.out.writes().size() == 1u);
  BOOST_TEST(t.box->queued_frames() == 3u);  // in flight until the write completes
  t.box->hold();
  t.box->push(message(2, 0));
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "0.1", "0.2"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_frames() == 1u);
  t.box->release({message(1, 0)});
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "0.1", "0.2", "1.0", "2.0"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(release_sends_ahead_first_then_the_held_frames) {
  recorded_outbox t;
  t.start();
  t.box->push(message(0, 0));
  t.box->push(message(0, 1));
  t.box->hold();
  t.box->hold();  // holding twice is holding once
  for (int i = 0; i < 4; ++i) t.box->push(message(2, i));
  t.settle();
  std::vector<howdy::shared_buffer> ahead;
  for (int i = 0; i < 3; ++i) ahead.push_back(message(1, i));
  t.box->release(std::move(ahead));
  BOOST_TEST(t.box->queued_frames() == 7u);
  BOOST_TEST(t.box->queued_bytes() == 700u);
  t.box->push(message(0, 2));  // after release: at the end, as usual
  t.settle();
  const std::vector<std::string> want = {"0.0", "0.1", "1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "0.2"};
  BOOST_TEST(labels(t.out.bytes()) == want, boost::test_tools::per_element());

  // Again, with the writer busy when release() comes: the order holds.
  t.box->hold();
  t.box->push(message(2, 10));
  t.box->release({message(1, 10), message(1, 11)});
  t.box->push(message(0, 10));
  t.settle();
  std::vector<std::string> more = want;
  for (const char* l : {"1.10", "1.11", "2.10", "0.10"}) more.push_back(l);
  BOOST_TEST(labels(t.out.bytes()) == more, boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_bytes() == 0u);

  // release() without hold(): `ahead` is simply queued.
  t.box->release({message(1, 20)});
  t.box->release();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()).back() == "1.20");
  t.box->close();
  BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
  BOOST_TEST(!*t.result);
}

BOOST_AUTO_TEST_CASE(release_with_nothing_held_or_ahead) {
  recorded_outbox t;
  t.start();
  t.box->hold();
  t.box->release();  // nothing pushed meanwhile, nothing ahead
  t.box->push(message(0, 0));
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0"}), boost::test_tools::per_element());
  t.box->hold();
  t.box->release({});
  t.box->push(message(0, 1));
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "0.1"}), boost::test_tools::per_element());
  // Ahead only.
  t.box->hold();
  t.box->release({message(1, 0), message(1, 1)});
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "0.1", "1.0", "1.1"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(limits_apply_while_held_disconnect) {
  howdy::outbox_options opts;
  opts.max_bytes = 1000;
  {  // pushes while held count against the limit
    recorded_outbox t(opts);
    t.start();
    t.box->hold();
    for (int i = 0; i < 10; ++i) BOOST_TEST_REQUIRE(t.box->push(message(2, i)));
    BOOST_TEST(!t.box->push(message(2, 10)));
    BOOST_TEST(t.box->error() == howdy::error::slow_consumer);
    BOOST_TEST(t.box->queued_frames() == 0u);
    BOOST_TEST(t.box->queued_bytes() == 0u);
    BOOST_TEST(!t.box->held());
    t.box->release({message(1, 0)});  // after a failure: nothing
    BOOST_TEST(t.box->queued_frames() == 0u);
    BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
    BOOST_TEST(*t.result == howdy::error::slow_consumer);
    BOOST_TEST(t.out.bytes().empty());
  }
  {  // and so do the frames given to release()
    recorded_outbox t(opts);
    t.start();
    t.box->hold();
    for (int i = 0; i < 6; ++i) t.box->push(message(2, i));
    std::vector<howdy::shared_buffer> ahead;
    for (int i = 0; i < 4; ++i) ahead.push_back(message(1, i));
    t.box->release(ahead);  // exactly 1000 bytes: fine
    BOOST_TEST(!t.box->error());
    BOOST_TEST(t.box->queued_bytes() == 1000u);
    t.settle();
    BOOST_TEST(t.out.bytes().size() == 1000u);
    t.box->hold();
    for (int i = 6; i < 13; ++i) t.box->push(message(2, i));
    t.box->release(ahead);  // 700 + 400 bytes
    BOOST_TEST(t.box->error() == howdy::error::slow_consumer);
    BOOST_TEST(t.box->queued_bytes() == 0u);
    BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
    BOOST_TEST(*t.result == howdy::error::slow_consumer);
  }
}

BOOST_AUTO_TEST_CASE(limits_apply_while_held_drop_oldest) {
  howdy::outbox_options opts;
  opts.max_bytes = 1000;
  opts.policy = howdy::overflow_policy::drop_oldest;
  opts.drop_notice = drop_notice;
  recorded_outbox t(opts);
  // No writer yet: everything stays queued. Older frames go first, held ones last.
  for (int i = 0; i < 4; ++i) t.box->push(message(0, i));
  t.box->hold();
  for (int i = 0; i < 8; ++i) BOOST_TEST_REQUIRE(t.box->push(message(2, i)));
  BOOST_TEST(t.box->queued_frames() == 10u);
  BOOST_TEST(t.box->dropped_frames() == 2u);  // 0.0 and 0.1
  BOOST_TEST(t.box->queued_bytes() == 1000u);
  BOOST_TEST_REQUIRE(t.box->push(message(2, 8)));
  BOOST_TEST_REQUIRE(t.box->push(message(2, 9)));
  BOOST_TEST_REQUIRE(t.box->push(message(2, 10)));  // every older frame gone: the oldest held one goes
  BOOST_TEST(t.box->dropped_frames() == 5u);
  BOOST_TEST(t.box->queued_frames() == 10u);
  BOOST_TEST(t.box->queued_bytes() == 1000u);
  t.start();
  t.settle();
  BOOST_TEST(t.out.bytes().empty());  // all of it is held
  // `ahead` goes before the held frames, so it is older than they are: the
  // policy, applied in the new order, keeps the newest 1000 bytes.
  t.box->release({message(1, 0), message(1, 1)});
  BOOST_TEST(t.box->queued_frames() == 10u);
  BOOST_TEST(t.box->queued_bytes() == 1000u);
  BOOST_TEST(t.box->dropped_frames() == 7u);
  t.settle();
  const std::vector<std::string> want = {"D7", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10"};
  BOOST_TEST(labels(t.out.bytes()) == want, boost::test_tools::per_element());

  // A smaller release keeps the ahead frames that fit.
  t.box->hold();
  for (int i = 0; i < 8; ++i) t.box->push(message(2, 20 + i));
  t.box->release({message(1, 10), message(1, 11), message(1, 12)});
  BOOST_TEST(t.box->queued_bytes() == 1000u);
  t.settle();
  std::vector<std::string> more = want;
  for (const char* l : {"D1", "1.11", "1.12", "2.20", "2.21", "2.22", "2.23", "2.24", "2.25", "2.26", "2.27"})
    more.push_back(l);
  BOOST_TEST(labels(t.out.bytes()) == more, boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(close_while_held_waits_for_release) {
  {
    recorded_outbox t;
    t.start();
    t.box->push(message(0, 0));
    t.box->hold();
    t.box->push(message(2, 0));
    t.box->close();
    BOOST_TEST(!t.box->push(message(2, 1)));  // closed: nothing more is pushed...
    t.settle();
    BOOST_TEST(!t.result.has_value());  // ...but the held frame is not dropped
    BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0"}), boost::test_tools::per_element());
    t.box->release({message(1, 0)});  // ahead is still queued: it belongs before accepted frames
    BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
    BOOST_TEST(!*t.result);
    BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "1.0", "2.0"}),
               boost::test_tools::per_element());
  }
  {  // held with nothing queued: close() still waits for release()
    recorded_outbox t;
    t.start();
    t.box->hold();
    t.box->close();
    t.settle();
    BOOST_TEST(!t.result.has_value());
    t.box->release();
    BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
    BOOST_TEST(!*t.result);
    BOOST_TEST(t.out.bytes().empty());
  }
  {  // never released: the grace ends it
    recorded_outbox t;
    t.start();
    t.box->hold();
    t.box->push(message(2, 0));
    t.box->close(50ms);
    BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
    BOOST_TEST(*t.result == howdy::error::shutting_down);
    BOOST_TEST(t.box->queued_bytes() == 0u);
    BOOST_TEST(t.out.bytes().empty());
  }
}

BOOST_AUTO_TEST_CASE(fail_while_held_drops_the_held_frames) {
  recorded_outbox t;
  t.start();
  t.box->hold();
  for (int i = 0; i < 3; ++i) t.box->push(message(2, i));
  t.box->fail(asio::error::connection_reset);
  BOOST_TEST(t.box->queued_frames() == 0u);
  BOOST_TEST(t.box->queued_bytes() == 0u);
  BOOST_TEST(!t.box->held());
  t.box->release({message(1, 0)});
  BOOST_TEST(t.box->queued_frames() == 0u);
  BOOST_TEST(!t.box->push(message(0, 0)));
  BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
  BOOST_TEST(*t.result == asio::error::connection_reset);
  BOOST_TEST(t.out.bytes().empty());
}

BOOST_AUTO_TEST_SUITE_END()

// A room's hub goes away with its last member, possibly while deliveries it
// published are still queued: they must find nothing to do, not freed memory.
BOOST_AUTO_TEST_CASE(hub_destroyed_with_deliveries_queued) {
  asio::io_context ctx;
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  auto hub = std::make_unique<howdy::broadcast_hub>(std::vector<asio::any_io_executor>{ctx.get_executor()});
  {
    auto member = hub->subscribe(*box);
    hub->publish(howdy::shared_buffer::copy_of(std::string_view("queued")));
  }  // the member leaves before the delivery runs
  hub.reset();
  BOOST_TEST(ctx.run() > 0);  // the queued delivery ran (under ASan: without touching the freed hub)
  BOOST_TEST(box->queued_frames() == 0u);
}

// A publish made before a subscribe but delivered on the partition after it
// (its hand-off still queued) is not the new subscriber's: it gets exactly what
// was published after subscribe() returned. A session that subscribes and then
// reads what was stored up to that moment must not get a message twice.
BOOST_AUTO_TEST_CASE(subscriber_gets_only_what_is_published_after_it_subscribed) {
  asio::io_context ctx(1);
  howdy::broadcast_hub hub({ctx.get_executor()});
  auto early = std::make_shared<howdy::outbox>(ctx.get_executor());
  auto late = std::make_shared<howdy::outbox>(ctx.get_executor());
  auto early_sub = hub.subscribe(*early);
  hub.publish(message(0, 0));  // queued, not yet delivered
  auto late_sub = hub.subscribe(*late);
  hub.publish(message(0, 1));
  ctx.poll();
  BOOST_TEST(early->queued_frames() == 2u);
  BOOST_TEST(late->queued_frames() == 1u);
}

// --- state frames (push_state / publish_state) and write boundaries ----------
// Frames: publisher 0 ordinary, 1 and 3 states under keys 7 and 8, 4 `ahead`.

BOOST_AUTO_TEST_SUITE(state_frames)

BOOST_AUTO_TEST_CASE(a_newer_state_replaces_the_queued_one_in_place) {
  recorded_outbox t;
  BOOST_TEST_REQUIRE(t.box->push(message(0, 0)));
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 0)));
  BOOST_TEST_REQUIRE(t.box->push(message(0, 1)));
  BOOST_TEST_REQUIRE(t.box->push_state(8, message(3, 0)));
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 1, 150)));  // replaces 1.0, keeps its place
  BOOST_TEST_REQUIRE(t.box->push(message(0, 2)));
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 2)));
  BOOST_TEST(t.box->queued_frames() == 5u);
  BOOST_TEST(t.box->queued_bytes() == 500u);
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "1.2", "0.1", "3.0", "0.2"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_bytes() == 0u);
  // Once sent, the next state is queued at the end like any frame.
  t.box->push(message(0, 3));
  t.box->push_state(7, message(1, 3));
  t.settle();
  BOOST_TEST(labels(t.out.bytes()).back() == "1.3");
  t.box->close();
  BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
  BOOST_TEST(!*t.result);
}

BOOST_AUTO_TEST_CASE(a_state_being_written_is_not_replaced) {
  recorded_outbox t;
  t.box->push_state(7, message(1, 0));
  t.start();
  while (t.out.writes().empty() && t.ctx.poll_one() > 0) {
  }
  BOOST_TEST_REQUIRE(t.out.writes().size() == 1u);  // 1.0 is in flight
  t.box->push_state(7, message(1, 1));              // queued behind it
  t.box->push(message(0, 0));
  t.box->push_state(7, message(1, 2));  // replaces 1.1, ahead of 0.0
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"1.0", "1.2", "0.0"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(states_with_hold_and_release) {
  recorded_outbox t;
  t.box->push_state(7, message(1, 0));
  t.box->hold();
  t.box->push(message(2, 0));
  t.box->push_state(7, message(1, 1));  // replaces 1.0, which was queued before the hold
  t.box->push_state(8, message(3, 0));  // held
  t.box->release({message(4, 0)});      // 4.0 goes before the held frames
  t.box->push_state(8, message(3, 1));  // replaces 3.0 where release() put it
  t.box->push(message(0, 0));
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"1.1", "4.0", "2.0", "3.1", "0.0"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(drop_oldest_drops_a_state_like_any_frame) {
  howdy::outbox_options o;
  o.max_bytes = 300;
  o.policy = howdy::overflow_policy::drop_oldest;
  o.drop_notice = drop_notice;
  o.max_batch = 1;
  recorded_outbox t(o);
  t.box->push_state(7, message(1, 0));
  t.box->push(message(0, 0));
  t.box->push(message(0, 1));
  t.box->push(message(0, 2));           // drops 1.0
  t.box->push_state(7, message(1, 1));  // 1.0 is gone: queued at the end (drops 0.0)
  BOOST_TEST(t.box->dropped_frames() == 2u);
  t.box->push_state(7, message(1, 2));  // replaces 1.1 in place: nothing more dropped
  BOOST_TEST(t.box->dropped_frames() == 2u);
  t.start();
  // The notice goes in front of the queue, in a write of its own (max_batch 1
  // below): positions must stay right, so 1.3 replaces 1.2, not 0.2.
  while (t.out.writes().empty() && t.ctx.poll_one() > 0) {
  }
  BOOST_TEST_REQUIRE(t.out.writes().size() == 1u);
  t.box->push_state(7, message(1, 3, 80));  // the notice counts: 80 bytes still fit
  t.settle();
  BOOST_TEST(t.box->dropped_frames() == 2u);
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"D2", "0.1", "0.2", "1.3"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_replacement_over_the_limit_disconnects) {
  howdy::outbox_options o;
  o.max_bytes = 300;
  recorded_outbox t(o);
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 0)));
  BOOST_TEST_REQUIRE(t.box->push(message(0, 0)));
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 1, 200)));  // 300 in all: fits
  BOOST_TEST(t.box->queued_bytes() == 300u);
  BOOST_TEST(!t.box->push_state(7, message(1, 2, 250)));
  BOOST_TEST(t.box->error() == howdy::error::slow_consumer);
  BOOST_TEST(!t.box->push_state(7, message(1, 3)));
}

BOOST_AUTO_TEST_CASE(a_slow_reader_gets_the_latest_state_not_a_backlog) {
  asio::io_context ctx(1);
  tcp::acceptor acceptor(ctx, loopback());
  tcp::socket client(ctx), server(ctx);
  connect_stallable_pair(acceptor, client, server);
  howdy::outbox_options opts;
  opts.max_bytes = 64 * 1024;  // far less than the states pushed in all
  auto box = std::make_shared<howdy::outbox>(ctx.get_executor(), opts);
  std::optional<std::error_code> result;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { result = co_await box->run(server); }, asio::detached);
  constexpr std::uint64_t states = 2000;
  for (std::uint64_t i = 0; i < states; ++i) {
    BOOST_TEST_REQUIRE(box->push_state(7, message(1, i, 8 * 1024)), "state " << i);
    ctx.poll();
    BOOST_TEST_REQUIRE(box->queued_bytes() <= opts.max_bytes);
  }
  BOOST_TEST(!box->error());
  std::vector<parsed> frames;
  bool read = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        howdy::framed_reader reader(client, howdy::codec::u32_length_prefixed{});
        for (;;) {
          auto [ec, f] = co_await reader.async_next(as_tuple_awaitable);
          if (ec) break;
          frames.push_back(parse(f.payload));
          if (frames.back().value == states - 1) break;
        }
        read = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return read; }));
  BOOST_TEST_REQUIRE(!frames.empty());
  BOOST_TEST(frames.back().value == states - 1);  // the latest arrived
  BOOST_TEST(frames.size() < states / 2);         // and most stale ones never went out
  for (std::size_t i = 1; i < frames.size(); ++i) BOOST_TEST_REQUIRE(frames[i].value > frames[i - 1].value);
  box->close();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return result.has_value(); }));
  BOOST_TEST(!*result);
}

BOOST_AUTO_TEST_CASE(a_write_boundary_ends_the_gather_write) {
  recorded_outbox t;
  t.box->push(message(0, 0));
  t.box->push(message(0, 1), howdy::write_boundary::after);
  t.box->push(message(0, 2));
  t.box->push(message(0, 3), howdy::write_boundary::none);
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "0.1", "0.2", "0.3"}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(t.out.writes().size() == 2u);
  BOOST_TEST(t.out.writes()[0].size() == 2u);
  BOOST_TEST(t.out.writes()[1].size() == 2u);
  // Two boundaries in a row: one frame per write.
  t.box->push(message(0, 4), howdy::write_boundary::after);
  t.box->push(message(0, 5), howdy::write_boundary::after);
  t.box->push(message(0, 6));
  t.settle();
  BOOST_TEST_REQUIRE(t.out.writes().size() == 5u);
  BOOST_TEST(t.out.writes()[2].size() == 1u);
  BOOST_TEST(t.out.writes()[3].size() == 1u);
  BOOST_TEST(t.out.writes()[4].size() == 1u);
}

BOOST_AUTO_TEST_CASE(publish_state_through_partitions) {
  asio::io_context ctx(1);
  auto a = asio::make_strand(ctx), b = asio::make_strand(ctx);
  howdy::broadcast_hub hub({a, b});
  std::vector<std::shared_ptr<howdy::outbox>> boxes;
  std::vector<howdy::broadcast_hub::subscription> subs;
  for (auto ex : {a, b, a, b}) {
    boxes.push_back(std::make_shared<howdy::outbox>(asio::any_io_executor(ex)));
    subs.push_back(hub.subscribe(*boxes.back()));
  }
  hub.publish(message(0, 0));
  hub.publish_state(7, message(1, 0));
  hub.publish(message(0, 1));
  hub.publish_state(7, message(1, 1));
  hub.publish_state(7, message(1, 2), boxes[1].get());  // boxes[1] keeps 1.1
  ctx.poll();
  std::vector<std::unique_ptr<howdy_test::recording_stream>> outs;
  std::vector<std::optional<std::error_code>> results(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    BOOST_TEST(boxes[i]->queued_frames() == 3u);
    outs.push_back(std::make_unique<howdy_test::recording_stream>(boxes[i]->get_executor()));
    boxes[i]->async_run(*outs.back(), [&, i](std::error_code ec) { results[i] = ec; });
    boxes[i]->close();
  }
  BOOST_TEST_REQUIRE(run_until(ctx, [&] {
    for (auto& r : results)
      if (!r) return false;
    return true;
  }));
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const std::vector<std::string> want = {"0.0", i == 1 ? "1.1" : "1.2", "0.1"};
    BOOST_TEST(labels(outs[i]->bytes()) == want, boost::test_tools::per_element());
    BOOST_TEST(!*results[i]);
  }
}

BOOST_AUTO_TEST_CASE(a_slow_reader_gets_the_latest_state_each_time_it_reads) {
  gated_outbox t;
  t.start();
  constexpr std::uint64_t states = 1000, per_read = 100;
  for (std::uint64_t i = 0; i < states; ++i) {
    BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, i)));
    if (i % per_read == per_read - 1) BOOST_TEST_REQUIRE(t.out.accept());
    t.settle();
    // One state being written, at most one waiting: never a backlog.
    BOOST_TEST_REQUIRE(t.box->queued_frames() <= 2u);
    BOOST_TEST_REQUIRE(t.box->queued_bytes() <= 200u);
  }
  while (t.out.accept()) t.settle();
  std::vector<std::string> want = {"1.0"};
  for (std::uint64_t i = per_read - 1; i < states; i += per_read) want.push_back("1." + std::to_string(i));
  BOOST_TEST(write_labels(t.out) == want, boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_frames() == 0u);
  BOOST_TEST(t.box->queued_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(states_among_ordinary_frames_with_a_slow_reader) {
  gated_outbox t;
  t.start();
  t.box->push_state(7, message(1, 0));
  t.settle();
  BOOST_TEST_REQUIRE(t.out.write_pending());  // 1.0 is being written
  t.box->push_state(7, message(1, 1));         // not a replacement: queued behind it
  t.box->push(message(0, 0));
  t.box->push_state(8, message(3, 0));
  t.box->push_state(7, message(1, 2));  // replaces 1.1, ahead of 0.0
  t.box->push(message(0, 1));
  t.box->push_state(8, message(3, 1));  // replaces 3.0, ahead of 0.1
  BOOST_TEST(t.box->queued_frames() == 5u);
  BOOST_TEST(t.box->queued_bytes() == 500u);
  BOOST_TEST_REQUIRE(t.out.accept());
  t.settle();  // the second write takes 1.2 0.0 3.1 0.1
  t.box->push_state(7, message(1, 3));  // 1.2 is being written: queued at the end
  t.box->push(message(0, 2));
  t.box->push_state(7, message(1, 4));  // replaces 1.3
  while (t.out.accept()) t.settle();
  const std::vector<std::string> want = {"1.0", "1.2 0.0 3.1 0.1", "1.4 0.2"};
  BOOST_TEST(write_labels(t.out) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_replacement_changes_the_queued_bytes) {
  howdy::outbox_options o;
  o.max_bytes = 300;
  recorded_outbox t(o);
  t.box->push(message(0, 0));
  t.box->push_state(7, message(1, 0, 150));
  t.box->push_state(7, message(1, 1, 50));  // shrinks
  BOOST_TEST(t.box->queued_bytes() == 150u);
  t.box->push(message(0, 1, 150));                               // 300: at the limit
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 2, 50)));  // same size: fits
  BOOST_TEST(t.box->queued_bytes() == 300u);
  BOOST_TEST(t.box->queued_frames() == 3u);
  BOOST_TEST(!t.box->push_state(7, message(1, 3, 51)));  // one byte over: disconnected
  BOOST_TEST(t.box->error() == howdy::error::slow_consumer);
  BOOST_TEST(!t.box->push(message(0, 2)));
}

BOOST_AUTO_TEST_CASE(drop_oldest_when_a_replacement_grows_past_the_limit) {
  howdy::outbox_options o;
  o.max_bytes = 300;
  o.policy = howdy::overflow_policy::drop_oldest;
  o.drop_notice = drop_notice;
  recorded_outbox t(o);
  t.box->push_state(7, message(1, 0));
  t.box->push(message(0, 0));
  t.box->push(message(0, 1));
  // 350 bytes with 1.1 in place: 1.0 goes, 1.1 is queued at the end, and the
  // oldest frame (0.0) is dropped to make room for it.
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 1, 150)));
  BOOST_TEST(t.box->dropped_frames() == 1u);  // 0.0; 1.0 was superseded, not dropped
  BOOST_TEST(t.box->queued_frames() == 2u);
  BOOST_TEST(t.box->queued_bytes() == 250u);
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 2)));  // replaces 1.1 where it now is
  BOOST_TEST(t.box->queued_bytes() == 200u);
  t.box->push(message(0, 2));
  BOOST_TEST(t.box->dropped_frames() == 1u);
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"D1", "0.1", "1.2", "0.2"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.box->queued_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(drop_oldest_replacement_keeps_boundaries_and_other_keys) {
  howdy::outbox_options o;
  o.max_bytes = 400;
  o.policy = howdy::overflow_policy::drop_oldest;
  o.drop_notice = drop_notice;
  recorded_outbox t(o);
  t.box->push_state(7, message(1, 0));
  t.box->push(message(0, 0));
  t.box->push(message(0, 1), howdy::write_boundary::after);
  t.box->push_state(8, message(3, 0));
  t.box->push_state(7, message(1, 1, 150));  // 1.0 goes, 0.0 is dropped, 1.1 at the end
  t.box->push_state(8, message(3, 1));       // replaces 3.0: its mark moved up with it
  t.box->push_state(7, message(1, 2));       // replaces 1.1
  BOOST_TEST(t.box->dropped_frames() == 1u);
  BOOST_TEST(t.box->queued_frames() == 3u);
  t.start();
  t.settle();
  // The boundary moved up with 0.1.
  BOOST_TEST_REQUIRE(t.out.writes().size() == 2u);
  BOOST_TEST(t.out.writes()[0].size() == 2u);  // D1 0.1
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"D1", "0.1", "3.1", "1.2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(drop_oldest_replacement_of_a_held_state) {
  howdy::outbox_options o;
  o.max_bytes = 350;
  o.policy = howdy::overflow_policy::drop_oldest;
  o.drop_notice = drop_notice;
  recorded_outbox t(o);
  t.box->push(message(0, 0));
  t.box->hold();
  t.box->push_state(7, message(1, 0));
  t.box->push(message(2, 0));
  t.box->push_state(7, message(1, 1, 200));  // 1.0 goes, 0.0 is dropped; 1.1 held at the end
  BOOST_TEST(t.box->dropped_frames() == 1u);
  BOOST_TEST(t.box->queued_frames() == 2u);
  BOOST_TEST(t.box->queued_bytes() == 300u);
  t.start();
  t.settle();
  BOOST_TEST(t.out.writes().empty());  // both are held
  t.box->release({message(4, 0, 50)});  // 350: fits
  t.box->push_state(7, message(1, 2));  // replaces 1.1 where release() put it
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"D1", "4.0", "2.0", "1.2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_dropped_state_is_forgotten) {
  howdy::outbox_options o;
  o.max_bytes = 200;
  o.policy = howdy::overflow_policy::drop_oldest;
  recorded_outbox t(o);
  t.box->push_state(7, message(1, 0));
  t.box->push(message(0, 0));
  t.box->push(message(0, 1));           // drops 1.0
  t.box->push_state(7, message(1, 1));  // queued at the end (drops 0.0)
  t.box->push_state(7, message(1, 2));  // replaces 1.1, not the frame that took 1.0's place
  BOOST_TEST(t.box->dropped_frames() == 2u);
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.1", "1.2"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(states_after_close_are_refused) {
  recorded_outbox t;
  BOOST_TEST_REQUIRE(t.box->push_state(7, message(1, 0)));
  t.box->close();
  BOOST_TEST(!t.box->push_state(7, message(1, 1)));  // would have replaced 1.0
  BOOST_TEST(!t.box->push_state(8, message(3, 0)));
  t.box->post_state(7, message(1, 2));
  t.start();
  BOOST_TEST_REQUIRE(run_until(t.ctx, [&] { return t.result.has_value(); }));
  BOOST_TEST(!*t.result);
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"1.0"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(post_state_from_another_thread) {
  recorded_outbox t;
  t.box->push(message(0, 0));
  std::thread([&] {
    for (std::uint64_t i = 0; i < 100; ++i) t.box->post_state(7, message(1, i));
  }).join();
  t.box->push(message(0, 1));  // before the posted states run
  t.settle();
  BOOST_TEST(t.box->queued_frames() == 3u);
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "0.1", "1.99"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(states_after_the_queue_drained_and_shrank) {
  recorded_outbox t;
  t.start();
  for (std::uint64_t i = 0; i < 200; ++i) t.box->push(message(0, i));
  t.box->push_state(7, message(1, 0));
  t.settle();  // everything written; the ring gave its storage back
  BOOST_TEST_REQUIRE(t.box->queued_frames() == 0u);
  t.box->push_state(7, message(1, 1));  // 1.0 was sent: queued
  t.box->push(message(0, 200));
  t.box->push_state(7, message(1, 2));  // replaces 1.1
  BOOST_TEST(t.box->queued_frames() == 2u);
  t.settle();
  auto got = labels(t.out.bytes());
  BOOST_TEST_REQUIRE(got.size() == 203u);
  BOOST_TEST(got[200] == "1.0");
  BOOST_TEST(got[201] == "1.2");
  BOOST_TEST(got[202] == "0.200");
}

BOOST_AUTO_TEST_CASE(a_write_boundary_within_max_batch) {
  howdy::outbox_options o;
  o.max_batch = 2;
  recorded_outbox t(o);
  for (std::uint64_t i = 0; i < 5; ++i)
    t.box->push(message(0, i), i == 2 ? howdy::write_boundary::after : howdy::write_boundary::none);
  t.start();
  t.settle();
  BOOST_TEST_REQUIRE(t.out.writes().size() == 3u);
  BOOST_TEST(t.out.writes()[0].size() == 2u);  // 0.0 0.1 (max_batch)
  BOOST_TEST(t.out.writes()[1].size() == 1u);  // 0.2 (boundary)
  BOOST_TEST(t.out.writes()[2].size() == 2u);  // 0.3 0.4
  BOOST_TEST(labels(t.out.bytes()).size() == 5u);
}

BOOST_AUTO_TEST_CASE(a_write_boundary_on_a_held_frame_moves_with_it) {
  recorded_outbox t;
  t.box->push(message(0, 0));
  t.box->hold();
  t.box->push(message(2, 0), howdy::write_boundary::after);
  t.box->push(message(2, 1));
  t.box->release({message(4, 0), message(4, 1)});
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"0.0", "4.0", "4.1", "2.0", "2.1"}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(t.out.writes().size() == 2u);
  BOOST_TEST(t.out.writes()[0].size() == 4u);
  BOOST_TEST(t.out.writes()[1].size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_dropped_frame_takes_its_write_boundary_along) {
  howdy::outbox_options o;
  o.max_bytes = 300;
  o.policy = howdy::overflow_policy::drop_oldest;
  o.drop_notice = drop_notice;
  recorded_outbox t(o);
  t.box->push(message(0, 0), howdy::write_boundary::after);
  t.box->push(message(0, 1));
  t.box->push(message(0, 2));
  t.box->push(message(0, 3));  // drops 0.0 and its boundary
  t.start();
  t.settle();
  BOOST_TEST(labels(t.out.bytes()) == (std::vector<std::string>{"D1", "0.1", "0.2", "0.3"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.out.writes().size() == 1u);  // the notice does not inherit the boundary
}

BOOST_AUTO_TEST_CASE(a_write_boundary_with_a_slow_reader) {
  gated_outbox t;
  t.start();
  t.box->push(message(0, 0));
  t.settle();  // 0.0 is being written
  t.box->push(message(0, 1), howdy::write_boundary::after);  // say, a login ack
  t.box->push_state(7, message(1, 0));                       // and the first list
  t.box->push(message(0, 2));
  while (t.out.accept()) t.settle();
  const std::vector<std::string> want = {"0.0", "0.1", "1.0 0.2"};
  BOOST_TEST(write_labels(t.out) == want, boost::test_tools::per_element());
}

// Two partitions on two threads, two publishers on two more: one publishes
// ordinary frames and states under key 7, the other states under key 8.
BOOST_AUTO_TEST_CASE(publish_state_from_threads_into_threaded_partitions) {
  asio::io_context ctx(2);
  auto work = asio::make_work_guard(ctx);
  auto a = asio::make_strand(ctx), b = asio::make_strand(ctx);
  howdy::broadcast_hub hub({a, b});
  std::vector<std::shared_ptr<howdy::outbox>> boxes;
  std::vector<howdy::broadcast_hub::subscription> subs;
  for (auto ex : {a, b, a, b}) {
    boxes.push_back(std::make_shared<howdy::outbox>(asio::any_io_executor(ex)));
    subs.push_back(hub.subscribe(*boxes.back()));
  }
  std::thread t1([&] { ctx.run(); }), t2([&] { ctx.run(); });
  constexpr std::uint64_t n = 2000;
  std::thread p1([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      hub.publish(message(0, i));
      hub.publish_state(7, message(1, i));
    }
  });
  std::thread p2([&] {
    for (std::uint64_t i = 0; i < n; ++i) hub.publish_state(8, message(3, i));
  });
  p1.join();
  p2.join();
  // Every delivery was posted before these markers, on the same strands.
  std::promise<void> da, db;
  asio::post(a, [&] { da.set_value(); });
  asio::post(b, [&] { db.set_value(); });
  da.get_future().wait();
  db.get_future().wait();
  work.reset();
  t1.join();
  t2.join();
  for (auto& box : boxes) BOOST_TEST(box->queued_frames() == n + 2);  // n ordinary, one state per key
  std::vector<std::unique_ptr<howdy_test::recording_stream>> outs;
  std::vector<std::optional<std::error_code>> results(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    outs.push_back(std::make_unique<howdy_test::recording_stream>(boxes[i]->get_executor()));
    boxes[i]->async_run(*outs.back(), [&, i](std::error_code ec) { results[i] = ec; });
    boxes[i]->close();
  }
  BOOST_TEST_REQUIRE(run_until(ctx, [&] {
    for (auto& r : results)
      if (!r) return false;
    return true;
  }));
  // Publisher 1's order: 0.0, then its last state where the first one was, then 0.1...
  std::vector<std::string> want = {"0.0", "1." + std::to_string(n - 1)};
  for (std::uint64_t i = 1; i < n; ++i) want.push_back("0." + std::to_string(i));
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    BOOST_TEST(!*results[i]);
    std::vector<std::string> got, key8;
    for (auto& l : labels(outs[i]->bytes())) (l.starts_with("3.") ? key8 : got).push_back(l);
    BOOST_TEST(got == want, boost::test_tools::per_element());
    BOOST_TEST(key8 == std::vector<std::string>{"3." + std::to_string(n - 1)}, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_SUITE_END()
