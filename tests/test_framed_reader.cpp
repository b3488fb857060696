// framed_reader with every codec: frames split at every byte, many frames in
// one read, limits, end of stream, garbage, sticky errors, HCP/1's rules, the
// header-and-body codec, the buffer's steady state, and real loopback sockets.

#include <boost/test/unit_test.hpp>

#include "test_streams.hpp"

#include <howdy/codec/delimited.hpp>
#include <howdy/codec/hcp1.hpp>
#include <howdy/codec/hcp2.hpp>
#include <howdy/codec/header_body.hpp>
#include <howdy/codec/length_prefixed.hpp>
#include <howdy/framed_reader.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace codec = howdy::codec;
using howdy_test::scripted_stream;
using howdy_test::scripted_stream_with_available;
using namespace std::chrono_literals;
using namespace std::string_literals;

std::string be16(std::size_t n) {
  return {static_cast<char>(n >> 8 & 0xFF), static_cast<char>(n & 0xFF)};
}
std::string be32(std::size_t n) {
  return {static_cast<char>(n >> 24 & 0xFF), static_cast<char>(n >> 16 & 0xFF), static_cast<char>(n >> 8 & 0xFF),
          static_cast<char>(n & 0xFF)};
}
std::string u16_frame(std::string_view p) { return be16(p.size()) + std::string(p); }
std::string u32_frame(std::string_view p) { return be32(p.size()) + std::string(p); }
std::string hcp2_frame(char type, std::string_view p) { return be32(1 + p.size()) + type + std::string(p); }

std::string name_block(std::string_view name) {
  std::string b(name);
  b.resize(codec::hcp1::name_size, '\0');
  return b;
}
std::string hcp1_short(char type, std::string_view name) { return type + name_block(name); }
std::string hcp1_update(const std::vector<std::string>& names) {
  std::string p = "\x04";
  for (auto& n : names) p += name_block(n);
  return p;
}
std::string hcp1_message(std::string_view from, std::string_view to, std::string_view text) {
  return "\x05" + name_block(from) + name_block(to) + std::string(text);
}

std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

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
void run_bounded(asio::io_context& ctx, Body body, std::chrono::seconds limit = 20s) {
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

}  // namespace

BOOST_AUTO_TEST_SUITE(framed_reader)

// --- every byte boundary, every codec ----------------------------------------

BOOST_AUTO_TEST_CASE(u16_split_at_every_byte) {
  const std::string big(300, 'x');
  check_every_split(codec::u16_length_prefixed{}, u16_frame("hello") + u16_frame("") + u16_frame(big) + u16_frame("!"),
                    {"hello", "", big, "!"});
}

BOOST_AUTO_TEST_CASE(u32_split_at_every_byte) {
  const std::string big(300, 'y');
  check_every_split(codec::u32_length_prefixed{}, u32_frame("hello") + u32_frame(big) + u32_frame("") + u32_frame("\n"),
                    {"hello", big, "", "\n"});
}

BOOST_AUTO_TEST_CASE(lines_split_at_every_byte) {
  check_every_split(codec::lines(), "hello\n\nw\xC3\xB6rld\r\n" + std::string(200, 'z') + "\n",
                    {"hello", "", "w\xC3\xB6rld\r", std::string(200, 'z')});
}

BOOST_AUTO_TEST_CASE(blocks_split_at_every_byte) {
  // A lone "\n" inside a block, a block starting with "\n", an empty block.
  check_every_split(codec::blocks(), "a\nb\n\n\n\nx\n\n\nc\n\n" + std::string(150, 'q') + "\n\n",
                    {"a\nb", "", "x", "\nc", std::string(150, 'q')});
}

BOOST_AUTO_TEST_CASE(hcp2_split_at_every_byte) {
  const std::string big(300, '\x05');
  check_every_split(codec::hcp2{}, hcp2_frame('\x01', "alice") + hcp2_frame('\x02', "") + hcp2_frame('\x07', big),
                    {"\x01"s + "alice", "\x02", "\x07" + big});
}

BOOST_AUTO_TEST_CASE(hcp1_split_at_every_byte) {
  // The stream reports the bytes still on their way (available()), so a 0x04 or
  // 0x05 cut by a read waits for the rest instead of ending where the read did.
  const std::vector<std::string> frames = {
      hcp1_short('\x01', "alice"),
      hcp1_message("alice", "bob", "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xF0\x9F\x98\x80"),
      hcp1_update({"alice", "bob", "carol"}),
      hcp1_short('\x02', "bob"),
      hcp1_short('\x03', "carol"),
      hcp1_message("bob", "", "bye"),
  };
  std::string wire;
  for (auto& f : frames) wire += f;
  check_every_split<codec::hcp1, scripted_stream_with_available>(codec::hcp1{}, wire, frames);
}

// --- many frames in one read -------------------------------------------------

namespace {
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
}  // namespace

BOOST_AUTO_TEST_CASE(hundreds_of_frames_from_one_read) {
  constexpr std::size_t n = 500;
  std::string u16, u32, lines, blocks, hcp1, hcp2;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string p = "message " + std::to_string(i);
    u16 += u16_frame(p);
    u32 += u32_frame(p);
    lines += p + "\n";
    blocks += p + "\n\n";
    hcp2 += hcp2_frame('\x06', p);
    hcp1 += i % 2 ? hcp1_short('\x01', p) : hcp1_message("a", "b", p);
  }
  check_coalesced(codec::u16_length_prefixed{}, u16, n);
  check_coalesced(codec::u32_length_prefixed{}, u32, n);
  check_coalesced(codec::lines(), lines, n);
  check_coalesced(codec::blocks(), blocks, n);
  check_coalesced(codec::hcp2{}, hcp2, n);
  check_coalesced(codec::hcp1{}, hcp1, n);
}

// --- limits ------------------------------------------------------------------

namespace {
howdy::reader_options small_frames(std::size_t max) {
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
}  // namespace

BOOST_AUTO_TEST_CASE(oversize_rejected_from_the_header) {
  check_rejected_after(codec::u16_length_prefixed{}, 100, be16(99));  // 2 + 99 > 100
  check_rejected_after(codec::u16_length_prefixed{}, 100, be16(60000));
  check_rejected_after(codec::u32_length_prefixed{}, 100, be32(97));  // 4 + 97 > 100
  check_rejected_after(codec::u32_length_prefixed{}, 100, be32(0xFFFFFFFFu));
  check_rejected_after(codec::hcp2{}, 1000, be32(1u << 30));
  check_rejected_after(codec::hcp1{}, 64, "\x01");   // a type 1 is 65 bytes
  check_rejected_after(codec::hcp1{}, 129, "\x05");  // no room for a message's text
}

BOOST_AUTO_TEST_CASE(oversize_at_the_limit_is_accepted) {
  {
    harness<codec::u16_length_prefixed> h({}, small_frames(100));
    h.stream.chunk(u16_frame(std::string(98, 'a')));
    auto g = h.next();
    BOOST_TEST(!g.ec);
    BOOST_TEST(g.payload.size() == 98u);
  }
  {
    harness<codec::hcp2> h({}, small_frames(100));
    h.stream.chunk(hcp2_frame('\x01', std::string(95, 'a')));
    BOOST_TEST(h.next().payload.size() == 96u);
  }
  {
    harness<codec::delimited> h(codec::lines(), small_frames(100));
    h.stream.chunk(std::string(99, 'a') + "\n");
    BOOST_TEST(h.next().payload.size() == 99u);
  }
  {
    harness<codec::hcp1> h({}, small_frames(65));
    h.stream.chunk(hcp1_short('\x01', "x"));
    BOOST_TEST(h.next().bytes.size() == 65u);
  }
}

BOOST_AUTO_TEST_CASE(oversize_delimited_without_delimiter) {
  for (auto proto : {codec::lines(), codec::blocks()}) {
    // One byte short of the limit: still waiting.
    harness<codec::delimited> h(proto, small_frames(100));
    h.stream.chunk(std::string(99, 'a'));
    BOOST_TEST(!h.poll().has_value());
    // The limit reached with no delimiter: rejected (a delimiter after it could not fit).
    h.stream.chunk("a");
    BOOST_TEST(h.next().ec == howdy::error::frame_too_large);
    BOOST_TEST(h.next().ec == howdy::error::frame_too_large);

    // A flood in one read: rejected without buffering it all.
    harness<codec::delimited> flood(proto, small_frames(100));
    flood.stream.chunk(std::string(1 << 20, 'b'));
    BOOST_TEST(flood.next().ec == howdy::error::frame_too_large);
    BOOST_TEST(flood.stream.bytes_served() <= 64u * 1024u);
    BOOST_TEST(flood.reader.buffer_capacity() <= 64u * 1024u);
  }
}

BOOST_AUTO_TEST_CASE(oversize_hcp1_text_and_update) {
  {
    harness<codec::hcp1> h({}, small_frames(200));
    h.stream.chunk(hcp1_message("a", "b", std::string(70, 'x')));  // 199 bytes: waits (or ends if idle)
    auto g = h.next();
    BOOST_TEST(!g.ec);
    BOOST_TEST(g.bytes.size() == 199u);
    h.stream.chunk(hcp1_message("a", "b", std::string(71, 'x')));  // 200 bytes: exactly the limit
    auto exact = h.next();
    BOOST_TEST(!exact.ec);
    BOOST_TEST(exact.bytes.size() == 200u);
    h.stream.chunk(hcp1_message("a", "b", std::string(72, 'x')));  // 201 bytes, no end in sight
    BOOST_TEST(h.next().ec == howdy::error::frame_too_large);
  }
  {
    harness<codec::hcp1> h({}, small_frames(129));
    h.stream.chunk(hcp1_update({"a", "b"}) + "\x01");  // 129 bytes: fits
    auto g = h.next();
    BOOST_TEST(!g.ec);
    BOOST_TEST(g.bytes.size() == 129u);
    harness<codec::hcp1> h2({}, small_frames(129));
    h2.stream.chunk(hcp1_update({"a", "b"}) + "c");  // a third block cannot fit
    BOOST_TEST(h2.next().ec == howdy::error::frame_too_large);
  }
}

// --- end of stream -----------------------------------------------------------

namespace {
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
}  // namespace

BOOST_AUTO_TEST_CASE(end_of_stream_between_and_inside_frames) {
  check_eof(codec::u16_length_prefixed{}, u16_frame("abc"), u16_frame("hello"));
  check_eof(codec::u32_length_prefixed{}, u32_frame("abc"), u32_frame("hello"));
  check_eof(codec::lines(), "abc\n", "hello\n");
  check_eof(codec::blocks(), "a\nbc\n\n", "hel\nlo\n\n");
  check_eof(codec::hcp2{}, hcp2_frame('\x01', "abc"), hcp2_frame('\x02', "hello"));
  check_eof(codec::hcp1{}, hcp1_short('\x01', "abc"), hcp1_short('\x02', "hello"));
  // A message cut before its text starts, an update cut inside a name block.
  check_eof(codec::hcp1{}, hcp1_short('\x03', "abc"), hcp1_message("a", "b", "").substr(0, 129) + "t");
  check_eof(codec::hcp1{}, hcp1_update({"a"}), hcp1_update({"a"}).substr(0, 64));
}

// --- garbage and sticky errors -----------------------------------------------

BOOST_AUTO_TEST_CASE(hcp1_unknown_type_is_malformed) {
  for (char first : {'\x09', '\x00', '\x06', 'A', '\xFF'}) {
    harness<codec::hcp1> h;
    h.stream.chunk(std::string(1, first) + std::string(100, 'x'));
    BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
    BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
    BOOST_TEST(h.stream.read_calls() == 1u);
  }
  // After good frames: the good ones come out first.
  harness<codec::hcp1> h;
  h.stream.chunk(hcp1_short('\x01', "ok") + "\x09" + std::string(64, 'x'));
  BOOST_TEST(h.next().bytes == hcp1_short('\x01', "ok"));
  BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
  h.stream.chunk(hcp1_short('\x01', "later"));
  BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
}

BOOST_AUTO_TEST_CASE(hcp2_zero_length_is_malformed) {
  harness<codec::hcp2> h;
  h.stream.chunk(hcp2_frame('\x01', "ok") + be32(0) + hcp2_frame('\x01', "never"));
  BOOST_TEST(h.next().payload == "\x01ok");
  BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
  BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
  // Split inside the zero header: still malformed once it is complete.
  harness<codec::hcp2> h2;
  h2.stream.chunk("\0\0"s).chunk("\0\0"s);
  BOOST_TEST(h2.next().ec == howdy::error::malformed_frame);
}

BOOST_AUTO_TEST_CASE(stream_error_is_sticky) {
  // A reader over a socket whose peer reset the connection.
  asio::io_context ctx;
  socket_pair p(ctx);
  howdy::framed_reader reader(p.server, codec::lines());
  p.client.set_option(asio::socket_base::linger(true, 0));
  asio::write(p.client, asio::buffer("one\n"s));
  p.client.close();  // RST
  run_bounded(ctx, [&]() -> asio::awaitable<void> {
    std::vector<std::error_code> errors;
    for (int i = 0; i < 3; ++i) {
      auto [ec, f] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
      if (!ec) {
        BOOST_TEST(str(f.payload) == "one");  // may or may not arrive before the reset
        continue;
      }
      errors.push_back(ec);
    }
    BOOST_TEST_REQUIRE(errors.size() >= 2u);
    BOOST_TEST(errors.front() != howdy::error::end_of_stream);
    for (auto& e : errors) BOOST_TEST(e == errors.front());
  });
}

// --- HCP/1 specifics ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(hcp1_two_messages_in_one_read) {
  const auto m1 = hcp1_message("alice", "", "hi all");
  const auto m2 = hcp1_message("bob", "alice", "hey \xE2\x9C\x93");
  harness<codec::hcp1> h;
  h.stream.chunk(m1 + m2);
  BOOST_TEST(h.next().bytes == m1);  // ends at the second's type byte
  // The second ends where the data does: the stream has nothing more, so it is delivered.
  BOOST_TEST(h.next().bytes == m2);
  BOOST_TEST(h.stream.read_calls() == 1u);
  BOOST_TEST(!h.poll().has_value());
}

BOOST_AUTO_TEST_CASE(hcp1_message_ending_with_the_data_is_delivered_when_idle) {
  harness<codec::hcp1> h;
  const auto m = hcp1_message("alice", "bob", "are you there?");
  h.stream.chunk(m);
  BOOST_TEST(h.next().bytes == m);
  // With more bytes already waiting, the same message waits for them.
  harness<codec::hcp1, scripted_stream_with_available> w;
  w.stream.chunk(m.substr(0, 140)).chunk(m.substr(140));
  BOOST_TEST(w.next().bytes == m);
  BOOST_TEST(w.stream.read_calls() == 2u);
}

BOOST_AUTO_TEST_CASE(hcp1_text_cut_inside_utf8_waits) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
  const auto m = hcp1_message("a", "b", text);
  // Cut after every byte of the text that leaves a sequence incomplete.
  for (std::size_t k = 129; k <= m.size(); ++k) {
    const auto last = k > 129 ? static_cast<unsigned char>(m[k - 1]) : 0;
    const bool inside = k == 129 || (k < m.size() && (static_cast<unsigned char>(m[k]) & 0xC0) == 0x80);
    BOOST_TEST_CONTEXT("cut after " << k << " bytes, last byte " << int(last)) {
      harness<codec::hcp1> h;
      h.stream.chunk(m.substr(0, k));
      auto first = h.poll();
      if (inside) {
        BOOST_TEST(!first.has_value());  // waits for the rest of the sequence (or the first text byte)
        h.stream.chunk(m.substr(k));
        BOOST_TEST(h.next().bytes == m);
      } else {
        BOOST_TEST_REQUIRE(first.has_value());  // a whole code point: ends there when idle
        BOOST_TEST(first->bytes == m.substr(0, k));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(hcp1_short_packets_are_65_bytes) {
  for (char type : {'\x01', '\x02', '\x03'}) {
    harness<codec::hcp1> h;
    const auto p = hcp1_short(type, "someone");
    h.stream.chunk(p.substr(0, 64));
    BOOST_TEST(!h.poll().has_value());  // 64 bytes are not enough, idle or not
    h.stream.chunk(p.substr(64) + p.substr(0, 10));
    auto g = h.next();
    BOOST_TEST(g.bytes == p);
    BOOST_TEST(g.payload == p);
    BOOST_TEST(h.reader.buffered_size() == 10u);
    BOOST_TEST(!h.poll().has_value());
  }
}

BOOST_AUTO_TEST_CASE(hcp1_update_is_name_blocks) {
  const auto u = hcp1_update({"alice", "bob", "carol"});
  BOOST_TEST(u.size() == 1u + 3 * 64);
  {  // ends at the next packet's type byte
    harness<codec::hcp1> h;
    h.stream.chunk(u + hcp1_short('\x01', "dave"));
    BOOST_TEST(h.next().bytes == u);
    BOOST_TEST(h.next().bytes == hcp1_short('\x01', "dave"));
  }
  {  // a block cut short waits, even when idle
    harness<codec::hcp1> h;
    h.stream.chunk(u.substr(0, 1 + 64 + 30));
    BOOST_TEST(!h.poll().has_value());
    h.stream.chunk(u.substr(1 + 64 + 30));
    BOOST_TEST(h.next().bytes == u);  // ends with the data, idle
  }
  {  // the type byte alone waits; an update with no names before the next packet
    harness<codec::hcp1> h;
    h.stream.chunk("\x04");
    BOOST_TEST(!h.poll().has_value());
    h.stream.chunk(hcp1_short('\x02', "x"));
    BOOST_TEST(h.next().bytes == "\x04");
    BOOST_TEST(h.next().bytes == hcp1_short('\x02', "x"));
  }
}

BOOST_AUTO_TEST_CASE(hcp1_utf8_cut_waits_over_tcp) {
  // The first write ends inside a UTF-8 sequence; the rest follows after a pause.
  asio::io_context ctx;
  socket_pair p(ctx);
  const auto m = hcp1_message("alice", "bob", "na\xC3\xAFve \xE2\x9C\x93");
  const auto cut = m.find('\xC3') + 1;
  run_bounded(ctx, [&]() -> asio::awaitable<void> {
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          co_await asio::async_write(p.client, asio::buffer(m.substr(0, cut)), asio::use_awaitable);
          asio::steady_timer pause(ctx, 100ms);
          co_await pause.async_wait(asio::use_awaitable);
          co_await asio::async_write(p.client, asio::buffer(m.substr(cut)), asio::use_awaitable);
        },
        asio::detached);
    howdy::framed_reader reader(p.server, codec::hcp1{});
    auto [ec, f] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(str(f.bytes) == m);
  });
}

// --- header and body ---------------------------------------------------------

namespace {
std::string hb_frame(std::string_view first_line, std::string_view body) {
  return std::string(first_line) + "\nContent-length: " + std::to_string(body.size()) + "\n\n" + std::string(body);
}

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
}  // namespace

BOOST_AUTO_TEST_CASE(header_field_lookup) {
  const std::string_view h = "SEND bob\nContent-length: 12\nX-Empty:\nTime:\t 12:30 \t\nx-dup: 1\nX-Dup: 2";
  BOOST_TEST(codec::header_field(h, "Content-length").value_or("?") == "12");
  BOOST_TEST(codec::header_field(h, "CONTENT-LENGTH").value_or("?") == "12");  // names fold ASCII case
  BOOST_TEST(codec::header_field(h, "content-Length").value_or("?") == "12");
  BOOST_TEST(codec::header_field(h, "Time").value_or("?") == "12:30");  // trimmed; a colon in the value stays
  BOOST_TEST(codec::header_field(h, "X-Empty").value_or("?") == "");    // present, empty
  BOOST_TEST(codec::header_field(h, "x-dup").value_or("?") == "1");     // the first one
  BOOST_TEST(!codec::header_field(h, "Content"));                       // whole names only
  BOOST_TEST(!codec::header_field(h, "Content-length-x"));
  BOOST_TEST(!codec::header_field(h, "SEND bob"));  // a line without a colon has no field
  BOOST_TEST(!codec::header_field(h, ""));
  BOOST_TEST(!codec::header_field("", "Content-length"));
  // "\r\n" line ends, and the last line without one.
  const std::string_view crlf = "SEND bob\r\nContent-length: 7\r\nLast: x ";
  BOOST_TEST(codec::header_field(crlf, "content-length").value_or("?") == "7");
  BOOST_TEST(codec::header_field(crlf, "last").value_or("?") == "x");
  // Only ASCII letters fold; spaces around the name are not ignored.
  BOOST_TEST(!codec::header_field("\xC3\x89t\xC3\xA9: 1", "\xC3\xA9t\xC3\xA9"));
  BOOST_TEST(!codec::header_field("Content-length : 5", "Content-length"));
}

BOOST_AUTO_TEST_CASE(header_body_split_at_every_byte) {
  // A body holding the delimiter, an empty body, no length field (no body),
  // a body holding a whole frame, and a longer one.
  const std::vector<std::string> frames = {
      hb_frame("SEND bob", "hi\n\nthere\n\n"),
      hb_frame("SEND carol", ""),
      "RECEIVED bob\n\n",
      hb_frame("SEND dave", hb_frame("SEND x", "y")),
      hb_frame("SEND erin", std::string(200, 'b')),
  };
  std::vector<std::string> payloads = {"hi\n\nthere\n\n", "", "", hb_frame("SEND x", "y"), std::string(200, 'b')};
  std::string wire;
  for (auto& f : frames) wire += f;
  check_every_split(codec::header_body{}, wire, payloads);
}

BOOST_AUTO_TEST_CASE(header_body_frames_from_one_read) {
  const std::string wire = hb_frame("SEND bob", "one\n\n") + "RECEIVED alice\n\n" +
                           "SEND carol\ncontent-LENGTH:\t3 \nOther: x\n\ntwo" + hb_frame("SEND dave", "");
  harness<codec::header_body> h;
  h.stream.chunk(wire);
  auto a = h.next();
  BOOST_TEST(a.bytes == hb_frame("SEND bob", "one\n\n"));
  BOOST_TEST(a.payload == "one\n\n");
  auto b = h.next();
  BOOST_TEST(b.bytes == "RECEIVED alice\n\n");  // no length field: the frame is the header and delimiter
  BOOST_TEST(b.payload == "");
  auto c = h.next();
  BOOST_TEST(c.bytes == "SEND carol\ncontent-LENGTH:\t3 \nOther: x\n\ntwo");
  BOOST_TEST(c.payload == "two");
  BOOST_TEST(h.next().bytes == hb_frame("SEND dave", ""));
  BOOST_TEST(h.stream.read_calls() == 1u);
  BOOST_TEST(!h.poll().has_value());
  h.stream.eof();
  BOOST_TEST(h.next().ec == howdy::error::end_of_stream);

  // Many at once, as for the other codecs.
  std::string many;
  for (int i = 0; i < 300; ++i)
    many += i % 3 ? hb_frame("SEND u" + std::to_string(i), "body " + std::to_string(i)) : "PING\n\n";
  check_coalesced(codec::header_body{}, many, 300);
}

BOOST_AUTO_TEST_CASE(header_body_offsets_describe_header_and_body) {
  codec::header_body c;
  const std::string f = hb_frame("SEND bob", "hello") + "next";
  const auto r = c.decode(as_bytes(f), 1000);
  BOOST_TEST_REQUIRE((r.status == howdy::decode_status::complete));
  BOOST_TEST(r.frame_size == f.size() - 4);
  BOOST_TEST(r.payload_size == 5u);
  BOOST_TEST(f.substr(r.payload_offset, r.payload_size) == "hello");
  BOOST_TEST(f.substr(0, r.payload_offset - c.delimiter().size()) == "SEND bob\nContent-length: 5");
  const std::string none = "QUIT\n\n";
  const auto q = c.decode(as_bytes(none), 1000);
  BOOST_TEST_REQUIRE((q.status == howdy::decode_status::complete));
  BOOST_TEST(q.frame_size == none.size());
  BOOST_TEST(q.payload_offset == none.size());
  BOOST_TEST(q.payload_size == 0u);
}

BOOST_AUTO_TEST_CASE(header_body_keeps_the_header_while_the_body_trickles) {
  // Once the header is parsed the codec only waits for the body's length: it
  // does not look at the header again (here, bytes that would no longer parse).
  codec::header_body c;
  std::string f = hb_frame("SEND bob", "0123456789");
  const std::size_t body_at = f.size() - 10;
  BOOST_TEST(
      (c.decode(as_bytes(std::string_view(f).substr(0, body_at + 3)), 1000).status == howdy::decode_status::need_more));
  f.replace(f.find("10"), 2, "xx");
  const auto r = c.decode(as_bytes(f), 1000);
  BOOST_TEST_REQUIRE((r.status == howdy::decode_status::complete));
  BOOST_TEST(r.payload_offset == body_at);
  BOOST_TEST(r.payload_size == 10u);
  // After answering, it starts afresh: the same bytes are now malformed.
  BOOST_TEST((c.decode(as_bytes(f), 1000).status == howdy::decode_status::malformed));
  // And after that, a good frame decodes (no state left from the malformed one).
  const std::string g = hb_frame("SEND x", "abc");
  BOOST_TEST(c.decode(as_bytes(g), 1000).payload_size == 3u);
  // Same after too_large.
  BOOST_TEST((c.decode(as_bytes(g), 10).status == howdy::decode_status::too_large));
  BOOST_TEST(c.decode(as_bytes(g), 1000).payload_size == 3u);
}

BOOST_AUTO_TEST_CASE(header_body_malformed_length) {
  for (std::string value : {"12a", "", " ", "-1", "+5", "0x10", "1 2", "1.5", "\xEF\xBC\x91",
                            "99999999999999999999999999", "18446744073709551616"}) {
    BOOST_TEST_CONTEXT("Content-length: '" << value << "'") {
      harness<codec::header_body> h;
      h.stream.chunk(hb_frame("SEND ok", "fine") + "SEND bob\nContent-length: " + value + "\n\nbody");
      BOOST_TEST(h.next().payload == "fine");
      BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
      BOOST_TEST(h.next().ec == howdy::error::malformed_frame);
    }
  }
  // Leading zeros and blanks around the digits are fine.
  harness<codec::header_body> h;
  h.stream.chunk("SEND bob\nContent-length: \t 003\t\n\nabc");
  BOOST_TEST(h.next().payload == "abc");
}

BOOST_AUTO_TEST_CASE(header_body_too_large_from_the_header) {
  // 27 bytes of header and delimiter: a body of 73 fits in 100, 74 does not.
  const std::string head73 = "SEND x\nContent-length: 73\n\n";
  const std::string head74 = "SEND x\nContent-length: 74\n\n";
  BOOST_TEST_REQUIRE(head73.size() == 27u);
  check_rejected_after(codec::header_body{}, 100, head74);  // before any of the body is read
  check_rejected_after(codec::header_body{}, 100, "SEND x\nContent-length: 18446744073709551615\n\n");
  {
    harness<codec::header_body> h({}, small_frames(100));
    h.stream.chunk(head73 + std::string(73, 'b'));
    auto g = h.next();
    BOOST_TEST(!g.ec);
    BOOST_TEST(g.payload.size() == 73u);
  }
  {  // a header without its delimiter within the limit
    harness<codec::header_body> h({}, small_frames(100));
    h.stream.chunk("SEND x\nContent-length: 1\n" + std::string(200, 'h'));
    BOOST_TEST(h.next().ec == howdy::error::frame_too_large);
  }
}

BOOST_AUTO_TEST_CASE(header_body_custom_delimiter_and_field) {
  codec::header_body proto("\r\n\r\n", "Length");
  BOOST_TEST(proto.delimiter() == "\r\n\r\n");
  BOOST_TEST(proto.length_field() == "Length");
  const std::string wire = "PUT a\r\nlength: 4\r\nContent-length: 99\r\n\r\n\r\n\r\nPUT b\r\n\r\n";
  check_every_split(proto, wire, {"\r\n\r\n", ""});
}

BOOST_AUTO_TEST_CASE(header_body_end_of_stream) {
  check_eof(codec::header_body{}, hb_frame("SEND a", "abc"), hb_frame("SEND b", "hello"));
  check_eof(codec::header_body{}, "RECEIVED a\n\n", "RECEIVED b\n\n");
}

// --- buffer steady state -----------------------------------------------------

BOOST_AUTO_TEST_CASE(buffer_does_not_grow_in_steady_state) {
  harness<codec::delimited> h(codec::lines());
  std::string line(90, 'l');
  line += '\n';
  std::string chunk;
  for (int i = 0; i < 40; ++i) chunk += line;  // 3640 bytes per read, frames cut at every read
  auto feed = [&](int frames) {
    for (int i = 0; i < frames; ++i) {
      auto r = h.poll();
      if (!r) {
        h.stream.chunk(chunk);
        r = h.poll();
      }
      BOOST_TEST_REQUIRE(r.has_value());
      BOOST_TEST_REQUIRE(!r->ec);
      BOOST_TEST_REQUIRE(r->payload.size() == 90u);
    }
  };
  feed(1000);  // warm-up
  const auto capacity = h.reader.buffer_capacity();
  BOOST_TEST(capacity > 0u);
  BOOST_TEST(capacity <= 64u * 1024u);
  for (int round = 0; round < 20; ++round) {
    feed(1000);
    BOOST_TEST_REQUIRE(h.reader.buffer_capacity() == capacity);
  }
}

BOOST_AUTO_TEST_CASE(buffer_starts_small_and_grows_only_to_the_read_limit) {
  howdy::reader_options o;
  o.initial_buffer_size = 256;
  o.max_read_size = 4096;
  o.max_frame_size = 2048;
  harness<codec::u32_length_prefixed> h({}, o);
  std::string wire;
  for (int i = 0; i < 2000; ++i) wire += u32_frame(std::string(100, 'a'));
  h.stream.chunk(wire);
  for (int i = 0; i < 2000; ++i) BOOST_TEST_REQUIRE(!h.next().ec);
  BOOST_TEST(h.reader.buffer_capacity() == 4096u);
}

// --- real sockets ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(lines_over_loopback_tcp) {
  asio::io_context ctx;
  socket_pair p(ctx);
  constexpr int n = 5000;
  std::string wire;
  for (int i = 0; i < n; ++i) wire += "line " + std::to_string(i) + " " + std::string(i % 50, '.') + "\n";
  run_bounded(ctx, [&]() -> asio::awaitable<void> {
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          // Odd-sized writes so frames straddle reads.
          for (std::size_t at = 0; at < wire.size();) {
            const std::size_t len = std::min<std::size_t>(wire.size() - at, 777 + at % 1000);
            co_await asio::async_write(p.client, asio::buffer(wire.data() + at, len), asio::use_awaitable);
            at += len;
          }
          p.client.shutdown(asio::socket_base::shutdown_send);
        },
        asio::detached);
    howdy::framed_reader reader(p.server, codec::lines());
    for (int i = 0; i < n; ++i) {
      auto [ec, f] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
      BOOST_TEST_REQUIRE(!ec, "frame " << i << ": " << ec.message());
      BOOST_TEST_REQUIRE(str(f.payload) == "line " + std::to_string(i) + " " + std::string(i % 50, '.'));
    }
    auto [ec, f] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
    BOOST_TEST(ec == howdy::error::end_of_stream);
  });
}

BOOST_AUTO_TEST_CASE(hcp2_over_loopback_tcp_cut_mid_frame) {
  asio::io_context ctx;
  socket_pair p(ctx);
  const auto f1 = hcp2_frame('\x01', std::string(5000, 'a'));
  const auto f2 = hcp2_frame('\x02', "partial");
  asio::write(p.client, asio::buffer(f1 + f2.substr(0, 6)));
  p.client.shutdown(asio::socket_base::shutdown_send);
  run_bounded(ctx, [&]() -> asio::awaitable<void> {
    howdy::framed_reader reader(p.server, codec::hcp2{});
    auto [ec, f] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(str(f.bytes) == f1);
    auto [ec2, f2_] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
    BOOST_TEST(ec2 == howdy::error::truncated_frame);
  });
}

BOOST_AUTO_TEST_SUITE_END()
