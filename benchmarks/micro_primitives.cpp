// howdy-micro: Google Benchmark micro-benchmarks of Howdy's primitives, with
// no sockets involved.
//
//   reader/<codec>/<mode>/<frame bytes>
//       A framed_reader over an in-memory stream that replays a pre-built ~1 MiB
//       buffer of frames forever, 64 KiB per async_read_some (completed through
//       asio::post, like a socket read). One iteration = one frame; bytes/s and
//       items/s are frame bytes and frames.
//         try_next  : the synchronous fast path; async_next only when nothing
//                     complete is buffered (once per 64 KiB read)
//         async_cb  : async_next for every frame, callback token, the handler
//                     re-arms the next read inside io_context::run()
//         async_coro: async_next for every frame from a coroutine,
//                     co_await reader.async_next(as_tuple(use_awaitable))
//       (async_x - try_next) per frame is what the posted completion costs.
//
//   hub/<variant>/<subscribers>[/<batch>]
//       A broadcast_hub with one partition; its io_context is polled on the
//       benchmark thread. One iteration = one publish (of a 64-byte frame)
//       followed by io_context::poll(). per_delivery = CPU time / (iterations
//       * subscribers), printed in ns.
//         queue     : outboxes without writers, max_bytes huge; every 128
//                     messages they are recreated (outside the timed region), so
//                     this is publish + push into a ring that grows from empty.
//         drop_oldest: outboxes without writers in steady state: a drop_oldest
//                     outbox holding 64 frames, so every push also drops (and
//                     releases) the oldest frame, as a writer would after sending.
//         write     : writers run against a stream whose async_write_some takes
//                     everything (completed through asio::post): wake-up, gather
//                     write, pop. <batch> messages are published per poll().
//
//         state     : publish_state into outboxes without writers: each
//                     replaces the queued state in place, one frame per outbox.
//
//   outbox/push                     one push into a writer-less outbox (ring from empty)
//   outbox/push_state/<keys>        one push_state that replaces a queued state,
//                                   <keys> keys in use in turn
//   outbox/slow_subscriber/<states per read>
//       push_state with a writer on a stream that takes one write every
//       <states per read> pushes: queued_max stays 2 (one in the write, one
//       waiting), and states_read = 1 / <states per read>.
//
//   shared_buffer/...: make / copy_of / copy (refcount) costs.
//
// Keep runs short: howdy-micro --benchmark_min_time=0.2

#include <howdy/broadcast_hub.hpp>
#include <howdy/codec/delimited.hpp>
#include <howdy/codec/length_prefixed.hpp>
#include <howdy/framed_reader.hpp>
#include <howdy/outbox.hpp>
#include <howdy/shared_buffer.hpp>

#include <hcp/wire/hcp1.hpp>
#include <hcp/wire/hcp2_frames.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using bytes_t = std::vector<std::byte>;

// ---------------------------------------------------------------------------
// In-memory streams

// Replays `wire` forever (it must hold whole frames), at most `chunk` bytes per
// read. available() reports a full chunk, as a busy socket would.
class loop_stream {
 public:
  using executor_type = asio::any_io_executor;  // what asio::ip::tcp::socket uses

  loop_stream(executor_type ex, std::span<const std::byte> wire, std::size_t chunk = 64 * 1024)
      : ex_(std::move(ex)), wire_(wire), chunk_(chunk) {}

  executor_type get_executor() const noexcept { return ex_; }

  std::size_t available(std::error_code& ec) const noexcept {
    ec.clear();
    return chunk_;
  }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return asio::async_initiate<ReadToken, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          const asio::mutable_buffer b(*asio::buffer_sequence_begin(bufs));
          const std::size_t n = std::min({b.size(), chunk_, wire_.size() - pos_});
          std::memcpy(b.data(), wire_.data() + pos_, n);
          pos_ += n;
          if (pos_ == wire_.size()) pos_ = 0;
          auto ex = asio::get_associated_executor(handler, ex_);
          asio::post(ex, [h = std::move(handler), n]() mutable { std::move(h)(std::error_code{}, n); });
        },
        token, buffers);
  }

 private:
  executor_type ex_;
  std::span<const std::byte> wire_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

// Takes every byte of every write at once; completes through asio::post.
class null_stream {
 public:
  using executor_type = asio::any_io_executor;

  explicit null_stream(executor_type ex) : ex_(std::move(ex)) {}
  executor_type get_executor() const noexcept { return ex_; }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return asio::async_initiate<WriteToken, void(std::error_code, std::size_t)>(
        [this](auto handler, std::size_t n) {
          auto ex = asio::get_associated_executor(handler, ex_);
          asio::post(ex, [h = std::move(handler), n]() mutable { std::move(h)(std::error_code{}, n); });
        },
        token, asio::buffer_size(buffers));
  }

 private:
  executor_type ex_;
};

// Takes a write only when accept() is called: a subscriber that reads when told.
class gated_stream {
 public:
  using executor_type = asio::any_io_executor;

  explicit gated_stream(executor_type ex) : ex_(std::move(ex)) {}
  executor_type get_executor() const noexcept { return ex_; }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return asio::async_initiate<WriteToken, void(std::error_code, std::size_t)>(
        [this](auto handler, std::size_t n) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          pending_ = [this, h, n] {
            auto ex = asio::get_associated_executor(*h, ex_);
            asio::post(ex, [h, n]() mutable { std::move(*h)(std::error_code{}, n); });
          };
        },
        token, asio::buffer_size(buffers));
  }

  // Completes the pending write; false if there is none.
  bool accept() {
    if (!pending_) return false;
    std::exchange(pending_, nullptr)();
    ++accepted_;
    return true;
  }
  std::uint64_t accepted() const noexcept { return accepted_; }

 private:
  executor_type ex_;
  std::function<void()> pending_;
  std::uint64_t accepted_ = 0;
};

// ---------------------------------------------------------------------------
// Wire images: ~1 MiB of identical frames of `size` bytes (header included).

constexpr std::size_t wire_target = 1 << 20;

void put_be(bytes_t& out, std::uint64_t v, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

void put_text(bytes_t& out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>('a' + i % 26));
}

using frame_writer = void (*)(bytes_t&, std::size_t);

void write_u16(bytes_t& out, std::size_t size) { put_be(out, size - 2, 2), put_text(out, size - 2); }
void write_u32(bytes_t& out, std::size_t size) { put_be(out, size - 4, 4), put_text(out, size - 4); }
void write_line(bytes_t& out, std::size_t size) {
  put_text(out, size - 1);
  out.push_back(std::byte{'\n'});
}
void write_block(bytes_t& out, std::size_t size) {
  put_text(out, size - 2);
  out.push_back(std::byte{'\n'});
  out.push_back(std::byte{'\n'});
}
void write_hcp2(bytes_t& out, std::size_t size) {
  namespace h2 = hcp::hcp2;
  put_be(out, size - h2::length_field_size, h2::length_field_size);
  out.push_back(std::byte{0x10});  // type
  put_text(out, size - h2::header_size);
}
// HCP/1: 65 bytes is a type-1 packet; larger sizes are type-5 messages (129
// bytes of header, then text), which the codec scans byte by byte.
void write_hcp1(bytes_t& out, std::size_t size) {
  namespace h1 = hcp::hcp1;
  if (size == h1::name_packet_size) {
    out.push_back(std::byte(h1::type::proposal));
    put_text(out, hcp::name_field_size);
    return;
  }
  out.push_back(std::byte(h1::type::message));
  put_text(out, size - 1);
}

bytes_t make_wire(frame_writer write, std::size_t size) {
  bytes_t out;
  out.reserve(wire_target + size);
  while (out.size() + size <= wire_target) write(out, size);
  return out;
}

// ---------------------------------------------------------------------------
// Framed reader

template <class Codec>
using reader_t = howdy::framed_reader<loop_stream, Codec>;

template <class Codec>
void finish_reader(benchmark::State& state, std::size_t bytes, std::size_t bad, std::error_code ec) {
  if (ec) state.SkipWithError(std::string("reader failed: ").append(ec.message()).c_str());
  else if (bad) state.SkipWithError("a frame had an unexpected size");
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}

template <class Codec>
void bm_reader_try_next(benchmark::State& state, Codec codec, frame_writer write, std::size_t size) {
  const bytes_t wire = make_wire(write, size);
  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  loop_stream stream(io.get_executor(), wire);
  reader_t<Codec> reader(stream, std::move(codec));
  std::size_t bytes = 0, bad = 0;
  std::error_code ec;
  for (auto _ : state) {
    auto f = reader.try_next(ec);
    if (!f) {
      if (ec) break;
      bool done = false;
      reader.async_next([&](std::error_code e, howdy::frame got) {
        ec = e;
        f = got;
        done = true;
      });
      while (!done) io.run_one();
      if (ec) break;
    }
    bytes += f->bytes.size();
    bad += f->bytes.size() != size;
    benchmark::DoNotOptimize(f->payload.data());
  }
  finish_reader<Codec>(state, bytes, bad, ec);
}

template <class Codec>
struct reader_chain {
  benchmark::State& state;
  reader_t<Codec>& reader;
  std::size_t size;
  std::size_t bytes = 0, bad = 0;
  std::error_code ec;

  struct handler {
    reader_chain* c;
    void operator()(std::error_code ec, howdy::frame f) const {
      if (ec) {
        c->ec = ec;
        return;
      }
      c->bytes += f.bytes.size();
      c->bad += f.bytes.size() != c->size;
      benchmark::DoNotOptimize(f.payload.data());
      if (c->state.KeepRunning()) c->reader.async_next(*this);
    }
  };
};

template <class Codec>
void bm_reader_async_cb(benchmark::State& state, Codec codec, frame_writer write, std::size_t size) {
  const bytes_t wire = make_wire(write, size);
  asio::io_context io(1);
  loop_stream stream(io.get_executor(), wire);
  reader_t<Codec> reader(stream, std::move(codec));
  reader_chain<Codec> chain{state, reader, size, 0, 0, {}};
  if (state.KeepRunning()) reader.async_next(typename reader_chain<Codec>::handler{&chain});
  io.run();
  finish_reader<Codec>(state, chain.bytes, chain.bad, chain.ec);
}

template <class Codec>
void bm_reader_async_coro(benchmark::State& state, Codec codec, frame_writer write, std::size_t size) {
  const bytes_t wire = make_wire(write, size);
  asio::io_context io(1);
  loop_stream stream(io.get_executor(), wire);
  reader_t<Codec> reader(stream, std::move(codec));
  std::size_t bytes = 0, bad = 0;
  std::error_code error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          auto [ec, f] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
          if (ec) {
            error = ec;
            break;
          }
          bytes += f.bytes.size();
          bad += f.bytes.size() != size;
          benchmark::DoNotOptimize(f.payload.data());
        }
      },
      asio::detached);
  io.run();
  finish_reader<Codec>(state, bytes, bad, error);
}

template <class Codec>
void register_reader(const std::string& name, Codec codec, frame_writer write, std::vector<std::size_t> sizes) {
  for (std::size_t size : sizes) {
    // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, falsely) on "literal" + std::string.
    const auto id = [&](const char* mode) {
      std::string s = "reader/";
      s.append(name).append("/").append(mode).append("/").append(std::to_string(size));
      return s;
    };
    benchmark::RegisterBenchmark(id("try_next").c_str(), bm_reader_try_next<Codec>, codec, write, size);
    benchmark::RegisterBenchmark(id("async_cb").c_str(), bm_reader_async_cb<Codec>, codec, write, size);
    benchmark::RegisterBenchmark(id("async_coro").c_str(), bm_reader_async_coro<Codec>, codec, write, size);
  }
}

// ---------------------------------------------------------------------------
// Broadcast hub

constexpr std::size_t hub_frame_size = 64;

howdy::shared_buffer hub_frame() {
  const std::string text(hub_frame_size, 'x');
  return howdy::shared_buffer::copy_of(text);
}

void set_delivery_counters(benchmark::State& state, std::size_t subscribers) {
  const double deliveries = static_cast<double>(state.iterations()) * static_cast<double>(subscribers);
  // An inverted rate: seconds per delivery (printed as e.g. "25.1ns").
  state.counters["per_delivery"] = benchmark::Counter(deliveries, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["subscribers"] = static_cast<double>(subscribers);
  state.SetItemsProcessed(state.iterations());  // messages
}

struct hub_fixture {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  howdy::broadcast_hub hub{{io.get_executor()}};
  std::vector<std::shared_ptr<howdy::outbox>> boxes;
  std::vector<howdy::broadcast_hub::subscription> subs;

  void join(std::size_t n, const howdy::outbox_options& options) {
    subs.clear();
    boxes.clear();
    boxes.reserve(n);
    subs.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      boxes.push_back(std::make_shared<howdy::outbox>(io.get_executor(), options));
      subs.push_back(hub.subscribe(*boxes.back()));
    }
  }
};

void bm_hub_queue(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t cycle = 128;
  howdy::outbox_options options;
  options.max_bytes = std::size_t(1) << 40;
  hub_fixture fx;
  fx.join(n, options);
  const auto frame = hub_frame();
  std::size_t sent = 0;
  for (auto _ : state) {
    fx.hub.publish(frame);
    fx.io.poll();
    if (++sent == cycle) {
      state.PauseTiming();
      fx.join(n, options);
      sent = 0;
      state.ResumeTiming();
    }
  }
  if (fx.boxes.front()->queued_frames() != sent) state.SkipWithError("frames were not queued");
  set_delivery_counters(state, n);
}

void bm_hub_drop_oldest(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t depth = 64;
  howdy::outbox_options options;
  options.max_bytes = depth * hub_frame_size;
  options.policy = howdy::overflow_policy::drop_oldest;
  hub_fixture fx;
  fx.join(n, options);
  const auto frame = hub_frame();
  for (std::size_t i = 0; i < depth; ++i) fx.hub.publish(frame);
  fx.io.poll();
  for (auto _ : state) {
    fx.hub.publish(frame);
    fx.io.poll();
  }
  if (fx.boxes.front()->queued_frames() != depth || fx.boxes.front()->error())
    state.SkipWithError("unexpected outbox state");
  set_delivery_counters(state, n);
}

// publish_state into subscribers that do not read: every state after the
// first replaces the queued one in place, so each outbox holds one frame, and
// the cost per delivery is that of hub/queue's push, without the growth.
void bm_hub_state(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  howdy::outbox_options options;
  options.max_bytes = 4 * hub_frame_size;  // a backlog would fail at once
  hub_fixture fx;
  fx.join(n, options);
  const auto frame = hub_frame();
  fx.hub.publish(frame);  // an ordinary frame ahead of the state
  for (auto _ : state) {
    fx.hub.publish_state(1, frame);
    fx.io.poll();
  }
  for (auto& box : fx.boxes)
    if (box->queued_frames() != 2 || box->error()) {
      state.SkipWithError("a state was queued instead of replaced");
      break;
    }
  set_delivery_counters(state, n);
}

// ---------------------------------------------------------------------------
// Outbox: push vs push_state

// push into a writer-less outbox: the ring grows from empty; every 1024 frames
// the outbox is recreated outside the timed region (as hub/queue, one subscriber).
void bm_outbox_push(benchmark::State& state) {
  constexpr std::size_t cycle = 1024;
  asio::io_context io{1};
  howdy::outbox_options options;
  options.max_bytes = std::size_t(1) << 40;
  auto box = std::make_shared<howdy::outbox>(io.get_executor(), options);
  const auto frame = hub_frame();
  std::size_t pushed = 0;
  for (auto _ : state) {
    box->push(frame);
    if (++pushed == cycle) {
      state.PauseTiming();
      box = std::make_shared<howdy::outbox>(io.get_executor(), options);
      pushed = 0;
      state.ResumeTiming();
    }
  }
  if (box->queued_frames() != pushed) state.SkipWithError("frames were not queued");
  state.SetItemsProcessed(state.iterations());
}

// push_state into a writer-less outbox holding 64 ordinary frames and one
// queued state per key: every push is a replacement in place. <keys> keys are
// used in turn (the lookup is linear in the keys in use).
void bm_outbox_push_state(benchmark::State& state) {
  const auto keys = static_cast<howdy::state_key>(state.range(0));
  asio::io_context io{1};
  auto box = std::make_shared<howdy::outbox>(io.get_executor());
  const auto frame = hub_frame();
  for (howdy::state_key k = 0; k < keys; ++k) {
    for (int i = 0; i < 64 / static_cast<int>(keys); ++i) box->push(frame);
    box->push_state(k, frame);
  }
  const std::size_t queued = box->queued_frames();
  howdy::state_key key = 0;
  for (auto _ : state) {
    box->push_state(key, frame);
    if (++key == keys) key = 0;
  }
  if (box->queued_frames() != queued || box->error()) state.SkipWithError("a state was queued instead of replaced");
  state.SetItemsProcessed(state.iterations());
}

// A subscriber that reads one write every <states per read> state updates,
// with a writer running on a gated stream: one iteration = one push_state +
// poll(). The queue stays bounded (one state in the write, one waiting), and
// the reader gets one state per read, the latest.
//   queued_max   : the most frames the outbox held at any point
//   states_read  : frames written / states pushed
void bm_outbox_slow_subscriber(benchmark::State& state) {
  const auto per_read = static_cast<std::size_t>(state.range(0));
  asio::io_context io{1};
  auto box = std::make_shared<howdy::outbox>(io.get_executor());
  gated_stream stream(io.get_executor());
  asio::co_spawn(io, box->run(stream), asio::detached);
  io.poll();
  const auto frame = hub_frame();
  std::size_t since_read = 0, queued_max = 0, queued_bytes_max = 0;
  for (auto _ : state) {
    box->push_state(1, frame);
    if (++since_read == per_read) {
      since_read = 0;
      stream.accept();
    }
    io.poll();
    queued_max = std::max(queued_max, box->queued_frames());
    queued_bytes_max = std::max(queued_bytes_max, box->queued_bytes());
  }
  const bool ok = !box->error() && queued_max <= 2;
  while (stream.accept()) io.poll();
  box->close();
  io.poll();
  if (!ok) state.SkipWithError("the queue grew");
  state.counters["queued_max"] = static_cast<double>(queued_max);
  state.counters["queued_bytes_max"] = static_cast<double>(queued_bytes_max);
  state.counters["states_read"] =
      static_cast<double>(stream.accepted()) / static_cast<double>(std::max<std::int64_t>(state.iterations(), 1));
  state.SetItemsProcessed(state.iterations());
}

void bm_hub_write(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  hub_fixture fx;
  fx.join(n, {});
  std::vector<std::unique_ptr<null_stream>> streams;
  for (auto& box : fx.boxes) {
    streams.push_back(std::make_unique<null_stream>(fx.io.get_executor()));
    asio::co_spawn(fx.io, box->run(*streams.back()), asio::detached);
  }
  fx.io.poll();  // every writer now waits for frames
  const auto frame = hub_frame();
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) fx.hub.publish(frame);
    fx.io.poll();
  }
  std::uint64_t writes = 0;
  bool ok = true;
  for (auto& box : fx.boxes) {
    ok = ok && box->queued_frames() == 0 && !box->error();
    writes += box->write_calls();
    box->close();
  }
  fx.io.poll();  // the writers return
  if (!ok) state.SkipWithError("outboxes did not drain");
  const double deliveries = static_cast<double>(state.iterations()) * static_cast<double>(n * batch);
  state.counters["per_delivery"] = benchmark::Counter(deliveries, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["subscribers"] = static_cast<double>(n);
  state.counters["frames_per_write"] = deliveries / static_cast<double>(std::max<std::uint64_t>(writes, 1));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}

// ---------------------------------------------------------------------------
// shared_buffer

void bm_shared_buffer_make(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto b = howdy::shared_buffer::make(size, [](std::span<std::byte> out) { out[0] = std::byte{1}; });
    benchmark::DoNotOptimize(b.data());
  }
}

void bm_shared_buffer_copy_of(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const bytes_t src(size, std::byte{'x'});
  for (auto _ : state) {
    auto b = howdy::shared_buffer::copy_of(std::span<const std::byte>(src));
    benchmark::DoNotOptimize(b.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// Copy + destroy: one atomic increment and one atomic decrement.
void bm_shared_buffer_copy(benchmark::State& state) {
  static const auto shared = hub_frame();  // shared by the threads of ->Threads(2)
  for (auto _ : state) {
    howdy::shared_buffer c = shared;
    benchmark::DoNotOptimize(c.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace howdy;
  const std::vector<std::size_t> sizes{16, 64, 512, 4096};
  register_reader("u16_length_prefixed", codec::u16_length_prefixed{}, write_u16, sizes);
  register_reader("u32_length_prefixed", codec::u32_length_prefixed{}, write_u32, sizes);
  register_reader("lines", codec::lines(), write_line, sizes);
  register_reader("blocks", codec::blocks(), write_block, sizes);
  register_reader("hcp1", hcp::hcp1::stream_codec{}, write_hcp1, {hcp::hcp1::name_packet_size, 512, 4096});
  register_reader("hcp2", hcp::hcp2::stream_codec{}, write_hcp2, sizes);

  for (long n : {10, 100, 1000, 10000}) {
    benchmark::RegisterBenchmark("hub/queue", bm_hub_queue)->Arg(n);
    benchmark::RegisterBenchmark("hub/drop_oldest", bm_hub_drop_oldest)->Arg(n);
    benchmark::RegisterBenchmark("hub/state", bm_hub_state)->Arg(n);
  }
  for (long n : {10, 100, 1000, 10000})
    for (long batch : {1, 16}) benchmark::RegisterBenchmark("hub/write", bm_hub_write)->Args({n, batch});

  benchmark::RegisterBenchmark("outbox/push", bm_outbox_push);
  benchmark::RegisterBenchmark("outbox/push_state", bm_outbox_push_state)->Arg(1)->Arg(4)->Arg(16);
  benchmark::RegisterBenchmark("outbox/slow_subscriber", bm_outbox_slow_subscriber)->Arg(1)->Arg(10)->Arg(1000);

  benchmark::RegisterBenchmark("shared_buffer/make", bm_shared_buffer_make)->Arg(64)->Arg(4096);
  benchmark::RegisterBenchmark("shared_buffer/copy_of", bm_shared_buffer_copy_of)->Arg(64)->Arg(4096);
  benchmark::RegisterBenchmark("shared_buffer/copy", bm_shared_buffer_copy)->Threads(1)->Threads(2);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
