// The framed_reader test harness shared by the suites that test codecs: a
// reader over a scripted stream driven by polling, and the checks every codec
// goes through (split at every byte, many frames in one read, limits, end of
// stream), plus a loopback socket pair and a bounded coroutine runner.
#pragma once

#include "test_streams.hpp"

#include <howdy/framed_reader.hpp>

#include <boost/test/unit_test.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace howdy_test {

inline std::string be16(std::size_t n) {
  return {static_cast<char>(n >> 8 & 0xFF), static_cast<char>(n & 0xFF)};
}
inline std::string be32(std::size_t n) {
  return {static_cast<char>(n >> 24 & 0xFF), static_cast<char>(n >> 16 & 0xFF), static_cast<char>(n >> 8 & 0xFF),
          static_cast<char>(n & 0xFF)};
}
inline std::string u16_frame(std::string_view p) { return be16(p.size()) + std::string(p); }
inline std::string u32_frame(std::string_view p) { return be32(p.size()) + std::string(p); }
inline std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

struct got {
  std::error_code ec;
  std::string bytes;
  std::string payload;
};

// A reader over a scripted stream, driven by polling its io_context: every
// completion of the scripted stream is posted, so polling until nothing is
// ready runs the reader as far as the scripted bytes allow.
template <class Codec, class Stream = scripted_stream>
struct harness {
  asio::io_context ctx;
  Stream stream{ctx.get_executor()};
  howdy::framed_reader<Stream, Codec> reader;

  explicit harness(Codec c = Codec{}, howdy::reader_options o = {}) : reader(stream, std::move(c), o) {}

  // Starts async_next unless one is in progress; its result if it completed.
  std::optional<got> poll() {
    if (!outstanding_) {
      outstanding_ = true;
      reader.async_next([this](std::error_code ec, howdy::frame f) {
        outstanding_ = false;
        result_ = got{ec, str(f.bytes), str(f.payload)};
      });
    }
    ctx.restart();
    while (!result_ && ctx.poll() > 0) {
    }
    return std::exchange(result_, std::nullopt);
  }

  got next() {
    auto r = poll();
    BOOST_TEST_REQUIRE(r.has_value(), "async_next did not complete with the bytes scripted so far");
    return *r;
  }

  // Reads frames until an error; returns the payloads and the error.
  std::vector<std::string> drain(std::error_code& ec, std::string* wire = nullptr) {
    std::vector<std::string> out;
    for (;;) {
      auto g = next();
      if (g.ec) {
        ec = g.ec;
        return out;
      }
      if (wire) *wire += g.bytes;
      out.push_back(g.payload);
      BOOST_TEST_REQUIRE(out.size() < 100000u);
    }
  }

 private:
  bool outstanding_ = false;
  std::optional<got> result_;
};

// Feeds `wire` in two chunks split at every byte boundary, then in one-byte
// chunks; every time the reader must hand out exactly `payloads`, whose
// frames cover the wire exactly, and then end_of_stream.
template <class Codec, class Stream = scripted_stream>
void check_every_split(const Codec& proto, const std::string& wire, const std::vector<std::string>& payloads) {
  auto check = [&](harness<Codec, Stream>& h, const std::string& what) {
    BOOST_TEST_CONTEXT(what) {
      std::error_code ec;
      std::string seen_wire;
      auto seen = h.drain(ec, &seen_wire);
      BOOST_TEST(ec == howdy::error::end_of_stream);
      BOOST_TEST_REQUIRE(seen.size() == payloads.size());
      for (std::size_t i = 0; i < seen.size(); ++i) BOOST_TEST(seen[i] == payloads[i], "frame " << i);
      BOOST_TEST(seen_wire == wire);
    }
  };
  for (std::size_t k = 1; k < wire.size(); ++k) {
    harness<Codec, Stream> h(proto);
    h.stream.chunk(wire.substr(0, k)).chunk(wire.substr(k)).eof();
    check(h, "split at byte " + std::to_string(k));
  }
  harness<Codec, Stream> h(proto);
  for (char c : wire) h.stream.chunk(std::string(1, c));
  h.stream.eof();
  check(h, "one byte per read");
}

// Runs `body` as a coroutine on `ctx` with a watchdog: fails instead of hanging.
template <class Body>
void run_bounded(asio::io_context& ctx, Body body, std::chrono::seconds limit = std::chrono::seconds(20)) {
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(ctx, body(), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
    ctx.stop();
  });
  ctx.run_for(limit);
  BOOST_TEST_REQUIRE(finished, "timed out");
  if (failure) std::rethrow_exception(failure);
}

struct socket_pair {
  asio::ip::tcp::socket server, client;
  explicit socket_pair(asio::io_context& ctx) : server(ctx), client(ctx) {
    asio::ip::tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};


template <class Codec>
void check_coalesced(const Codec& proto, const std::string& wire, std::size_t count) {
  howdy::reader_options o;
  o.initial_buffer_size = 64 * 1024;
  BOOST_TEST_REQUIRE(wire.size() <= o.initial_buffer_size);
  harness<Codec> h(proto, o);
  h.stream.chunk(wire);
  for (std::size_t i = 0; i < count; ++i) {
    auto g = h.next();
    BOOST_TEST_REQUIRE(!g.ec, "frame " << i << ": " << g.ec.message());
  }
  BOOST_TEST(h.stream.read_calls() == 1u);
  BOOST_TEST(h.reader.buffered_size() == 0u);
  BOOST_TEST(!h.poll().has_value());  // needs another read, which waits
  BOOST_TEST(h.stream.read_calls() == 2u);
  h.stream.eof();
  BOOST_TEST(h.next().ec == howdy::error::end_of_stream);
}

inline howdy::reader_options small_frames(std::size_t max) {
  howdy::reader_options o;
  o.max_frame_size = max;
  return o;
}

// Sends `head`, scripts nothing more: the reader must fail at once.
template <class Codec>
void check_rejected_after(const Codec& proto, std::size_t max, const std::string& head) {
  harness<Codec> h(proto, small_frames(max));
  h.stream.chunk(head);
  auto g = h.next();
  BOOST_TEST(g.ec == howdy::error::frame_too_large);
  BOOST_TEST(h.stream.read_calls() == 1u);
  BOOST_TEST(h.stream.bytes_served() == head.size());
  // Sticky, and no more reads.
  BOOST_TEST(h.next().ec == howdy::error::frame_too_large);
  BOOST_TEST(h.stream.read_calls() == 1u);
}

// `full` is one frame; `cuttable` a frame whose every proper prefix is an
// incomplete frame for this codec.
template <class Codec>
void check_eof(const Codec& proto, const std::string& full, const std::string& cuttable) {
  {  // between frames
    harness<Codec> h(proto);
    h.stream.chunk(full).eof();
    BOOST_TEST(h.next().bytes == full);
    BOOST_TEST(h.next().ec == howdy::error::end_of_stream);
    BOOST_TEST(h.next().ec == howdy::error::end_of_stream);
  }
  {  // nothing at all
    harness<Codec> h(proto);
    h.stream.eof();
    BOOST_TEST(h.next().ec == howdy::error::end_of_stream);
  }
  for (std::size_t k = 1; k < cuttable.size(); ++k) {  // inside a frame
    BOOST_TEST_CONTEXT("cut after " << k << " bytes") {
      harness<Codec> h(proto);
      h.stream.chunk(full + cuttable.substr(0, k)).eof();
      BOOST_TEST(h.next().bytes == full);
      BOOST_TEST(h.next().ec == howdy::error::truncated_frame);
      const auto reads = h.stream.read_calls();
      BOOST_TEST(h.next().ec == howdy::error::truncated_frame);  // sticky, no more reads
      BOOST_TEST(h.stream.read_calls() == reads);
    }
  }
}

}  // namespace howdy_test
