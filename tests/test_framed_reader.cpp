// framed_reader with the library's codecs: frames split at every byte, many
// frames in one read, limits, end of stream, sticky errors, the
// header-and-body codec, the buffer's steady state, frames that end where the
// peer stops sending (ends_if_idle, with a codec of its own), the handler's
// executor, the error categories and conditions, and real loopback sockets.
// (The HCP codecs, which live with the sample, are tested in test_hcp_framing.cpp
// with the same harness.)

#include <boost/test/unit_test.hpp>

#include "reader_harness.hpp"
#include "test_streams.hpp"

#include <howdy/codec/delimited.hpp>
#include <howdy/codec/header_body.hpp>
#include <howdy/codec/length_prefixed.hpp>
#include <howdy/framed_reader.hpp>

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

namespace codec = howdy::codec;
using namespace howdy_test;
using namespace std::chrono_literals;
using namespace std::string_literals;

// A framing with no length and no end marker, for the reader's ends_if_idle
// hook: a frame is '#' and its text, and ends where the next '#' starts or
// where the peer stops sending.
struct hash_marked {
  howdy::decode_result decode(std::span<const std::byte> b, std::size_t max) const {
    if (b.empty()) return howdy::decode_result::need_more();
    if (b[0] != std::byte{'#'}) return howdy::decode_result::malformed();
    for (std::size_t i = 1; i < b.size() && i <= max; ++i)
      if (b[i] == std::byte{'#'}) return howdy::decode_result::complete(i, 1, i - 1);
    if (b.size() > max) return howdy::decode_result::too_large();
    return howdy::decode_result::ends_if_idle(b.size(), 1, b.size() - 1);
  }
};

struct no_available {};
struct failing_available {
  std::size_t available(std::error_code& ec) const {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return 7;
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

// A limit below the length field: too large from the first byte, however the
// stream is cut (found by fuzz-reader-length-prefixed: it asked for more).
BOOST_AUTO_TEST_CASE(length_field_over_the_limit_is_too_large_at_once) {
  const std::byte one[1]{std::byte{0}};
  BOOST_TEST((codec::u32_length_prefixed{}.decode(std::span(one), 3).status == howdy::decode_status::too_large));
  BOOST_TEST((codec::u32_length_prefixed{}.decode(std::span<const std::byte>(), 3).status == howdy::decode_status::need_more));
  BOOST_TEST((codec::u16_length_prefixed{}.decode(std::span(one), 2).status == howdy::decode_status::need_more));
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

// --- many frames in one read -------------------------------------------------

BOOST_AUTO_TEST_CASE(hundreds_of_frames_from_one_read) {
  constexpr std::size_t n = 500;
  std::string u16, u32, lines, blocks;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string p = "message " + std::to_string(i);
    u16 += u16_frame(p);
    u32 += u32_frame(p);
    lines += p + "\n";
    blocks += p + "\n\n";
  }
  check_coalesced(codec::u16_length_prefixed{}, u16, n);
  check_coalesced(codec::u32_length_prefixed{}, u32, n);
  check_coalesced(codec::lines(), lines, n);
  check_coalesced(codec::blocks(), blocks, n);
}

// --- limits ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(oversize_rejected_from_the_header) {
  check_rejected_after(codec::u16_length_prefixed{}, 100, be16(99));  // 2 + 99 > 100
  check_rejected_after(codec::u16_length_prefixed{}, 100, be16(60000));
  check_rejected_after(codec::u32_length_prefixed{}, 100, be32(97));  // 4 + 97 > 100
  check_rejected_after(codec::u32_length_prefixed{}, 100, be32(0xFFFFFFFFu));
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
    harness<codec::delimited> h(codec::lines(), small_frames(100));
    h.stream.chunk(std::string(99, 'a') + "\n");
    BOOST_TEST(h.next().payload.size() == 99u);
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

// --- end of stream -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(end_of_stream_between_and_inside_frames) {
  check_eof(codec::u16_length_prefixed{}, u16_frame("abc"), u16_frame("hello"));
  check_eof(codec::u32_length_prefixed{}, u32_frame("abc"), u32_frame("hello"));
  check_eof(codec::lines(), "abc\n", "hello\n");
  check_eof(codec::blocks(), "a\nbc\n\n", "hel\nlo\n\n");
}

// --- garbage and sticky errors -----------------------------------------------

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

// --- frames that end where the peer stops sending (ends_if_idle) -------------

BOOST_AUTO_TEST_CASE(idle_ended_frames_split_at_every_byte) {
  // available() counts every byte still scripted: a frame cut by a read waits
  // for the rest instead of ending where the read did.
  check_every_split<hash_marked, scripted_stream_with_available>(hash_marked{}, "#hello#w\xC3\xB6rld##!",
                                                                 {"hello", "w\xC3\xB6rld", "", "!"});
}

BOOST_AUTO_TEST_CASE(idle_ended_frame_is_handed_out_when_nothing_more_waits) {
  {  // a stream without available() counts as idle between reads
    harness<hash_marked> h;
    h.stream.chunk("#ab");
    BOOST_TEST(h.next().payload == "ab");
    h.stream.chunk("#cd#e");
    BOOST_TEST(h.next().payload == "cd");  // ended by the next frame
    BOOST_TEST(h.next().payload == "e");   // ended by the pause
    BOOST_TEST(!h.poll().has_value());
    h.stream.eof();
    BOOST_TEST(h.next().ec == howdy::error::end_of_stream);
  }
  {  // bytes already received extend the frame: it waits for them
    harness<hash_marked, scripted_stream_with_available> h;
    h.stream.chunk("#ab").chunk("cd");
    const auto g = h.next();
    BOOST_TEST(g.payload == "abcd");
    BOOST_TEST(g.bytes == "#abcd");
    BOOST_TEST(h.stream.read_calls() == 2u);
  }
  {  // the end of the stream ends the frame
    harness<hash_marked, scripted_stream_with_available> h;
    h.stream.chunk("#x").chunk("y").eof();
    BOOST_TEST(h.next().payload == "xy");
    BOOST_TEST(h.next().ec == howdy::error::end_of_stream);
  }
  {  // the limit still holds, and a frame of exactly the limit is seen to end
    harness<hash_marked, scripted_stream_with_available> h(hash_marked{}, small_frames(4));
    h.stream.chunk("#abc#");
    BOOST_TEST(h.next().payload == "abc");
    h.stream.chunk("defg");
    BOOST_TEST(h.next().ec == howdy::error::frame_too_large);
  }
}

BOOST_AUTO_TEST_CASE(readable_now_asks_the_stream_when_it_can) {
  no_available none;
  failing_available failing;
  BOOST_TEST(howdy::detail::readable_now(none) == 0u);     // cannot tell: idle
  BOOST_TEST(howdy::detail::readable_now(failing) == 0u);  // an error: idle, the read reports it
  asio::io_context ctx;
  socket_pair p(ctx);
  asio::write(p.client, asio::buffer("12345", 5));
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (howdy::detail::readable_now(p.server) < 5u && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  BOOST_TEST(howdy::detail::readable_now(p.server) == 5u);
}

// --- completion and errors ---------------------------------------------------

BOOST_AUTO_TEST_CASE(completes_on_the_handlers_executor) {
  // A frame already buffered completes as if by post, on the executor the
  // handler is bound to (here a strand), never inside async_next.
  harness<codec::delimited> h(codec::lines());
  h.stream.chunk("one\ntwo\n");
  BOOST_TEST(h.next().payload == "one");
  auto strand = asio::make_strand(h.ctx);
  std::optional<std::string> got;
  bool on_strand = false;
  h.reader.async_next(asio::bind_executor(strand, [&](std::error_code ec, howdy::frame f) {
    on_strand = strand.running_in_this_thread();
    BOOST_TEST(!ec);
    got = str(f.payload);
  }));
  BOOST_TEST(!got.has_value());
  h.ctx.restart();
  h.ctx.run();
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(*got == "two");
  BOOST_TEST(on_strand);
}

BOOST_AUTO_TEST_CASE(framing_errors_and_conditions) {
  const std::error_code eos = howdy::error::end_of_stream;
  BOOST_TEST(eos.category().name() == std::string("howdy.framing"));
  BOOST_TEST(&eos.category() == &howdy::error::get_framing_category());
  // The messages are what they were: samples show them to users.
  BOOST_TEST(eos.message() == "the peer closed the connection");
  BOOST_TEST(std::error_code(howdy::error::truncated_frame).message() ==
             "the peer closed the connection in the middle of a frame");
  BOOST_TEST(std::error_code(howdy::error::frame_too_large).message() == "a frame is larger than the allowed maximum");
  BOOST_TEST(std::error_code(howdy::error::malformed_frame).message() == "received bytes that are not a valid frame");
  BOOST_TEST(std::error_code(howdy::error::slow_consumer).category().name() == std::string("howdy.delivery"));
  BOOST_TEST(std::error_code(howdy::error::worker_busy).category().name() == std::string("howdy.worker"));
  BOOST_TEST(std::error_code(howdy::error::room_limit).category().name() == std::string("howdy.rooms"));

  // peer_gone: Howdy's and Asio's ways of saying the peer went away.
  for (std::error_code ec : {std::error_code(howdy::error::end_of_stream), std::error_code(howdy::error::truncated_frame),
                             std::error_code(asio::error::eof), std::error_code(asio::error::connection_reset),
                             std::error_code(asio::error::connection_aborted), std::error_code(asio::error::broken_pipe),
                             std::error_code(asio::error::not_connected),
                             std::make_error_code(std::errc::connection_reset)})
    BOOST_TEST((ec == howdy::condition::peer_gone), ec.category().name() << " " << ec.message());
  for (std::error_code ec : {std::error_code(howdy::error::malformed_frame), std::error_code(howdy::error::slow_consumer),
                             std::error_code(asio::error::operation_aborted), std::error_code()})
    BOOST_TEST((ec != howdy::condition::peer_gone), ec.message());

  // protocol_violation: what the framing forbids.
  BOOST_TEST((std::error_code(howdy::error::malformed_frame) == howdy::condition::protocol_violation));
  BOOST_TEST((std::error_code(howdy::error::frame_too_large) == howdy::condition::protocol_violation));
  BOOST_TEST((std::error_code(howdy::error::end_of_stream) != howdy::condition::protocol_violation));

  // overloaded: back off.
  BOOST_TEST((std::error_code(howdy::error::slow_consumer) == howdy::condition::overloaded));
  BOOST_TEST((std::error_code(howdy::error::worker_busy) == howdy::condition::overloaded));
  BOOST_TEST((std::error_code(howdy::error::worker_stopped) != howdy::condition::overloaded));
  BOOST_TEST((std::error_code(howdy::error::outbox_closed) != howdy::condition::overloaded));

  const std::error_condition c = howdy::condition::peer_gone;
  BOOST_TEST(c.category().name() == std::string("howdy.condition"));
  BOOST_TEST(c.message() == "the peer went away");

  // A reader's own error matches too.
  harness<codec::delimited> h(codec::lines());
  h.stream.chunk("cut").eof();
  BOOST_TEST((h.next().ec == howdy::condition::peer_gone));
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

BOOST_AUTO_TEST_SUITE_END()
