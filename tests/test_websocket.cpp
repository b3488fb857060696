// howdy/websocket.hpp: the accept key (RFC 6455's example), the upgrade
// request's parsing, limits and every refusal with its HTTP status; the frame
// codec (split at every byte, masking, reserved bits, opcodes, control frame
// rules, length encodings, 64-bit lengths over the limit); the message layer
// (unmasking, fragments with control frames between them, continuations out
// of place, message size, UTF-8 across fragments, close payloads); server
// frame encoding; the error category; and message_reader over loopback
// sockets: handshake, ping/pong, the close handshake, hostile frames.

#include <boost/test/unit_test.hpp>

#include "reader_harness.hpp"
#include "test_streams.hpp"

#include <howdy/outbox.hpp>
#include <howdy/websocket.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ws = howdy::websocket;

BOOST_TEST_DONT_PRINT_LOG_VALUE(howdy::condition)
BOOST_TEST_DONT_PRINT_LOG_VALUE(howdy::websocket::codec::phase)
BOOST_TEST_DONT_PRINT_LOG_VALUE(howdy::websocket::close_code)
BOOST_TEST_DONT_PRINT_LOG_VALUE(howdy::websocket::message_assembler::result)
namespace herr = howdy::error;
using howdy_test::harness;
using howdy_test::str;

namespace {

const std::string rfc_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// rfc_request with the line starting with `name` replaced by `line` (removed if empty).
std::string with_line(std::string_view name, std::string_view line) {
  std::string r = rfc_request;
  const auto at = r.find(std::string(name));
  BOOST_TEST_REQUIRE(at != std::string::npos);
  const auto end = r.find("\r\n", at) + 2;
  r.replace(at, end - at, line.empty() ? std::string() : std::string(line) + "\r\n");
  return r;
}

std::error_code parse_error(const std::string& text, const ws::upgrade_limits& limits = {}) {
  std::error_code ec;
  auto r = ws::parse_upgrade(text, ec, limits);
  BOOST_TEST(r.has_value() == !ec);
  return ec;
}

constexpr std::uint8_t fin = 0x80;
constexpr std::uint8_t text_op = 1, binary_op = 2, cont_op = 0, close_op = 8, ping_op = 9, pong_op = 10;

// A client frame: `first` is byte 0 (FIN, RSV, opcode); masked with `key`
// unless `masked` is false; `length_form` 0 picks the shortest, or forces 126 / 127.
std::string client_frame(std::uint8_t first, std::string_view payload, bool masked = true, int length_form = 0,
                         std::string_view key = "\x12\x34\x56\x78") {
  std::string f(1, static_cast<char>(first));
  const std::uint8_t m = masked ? 0x80 : 0;
  const std::size_t n = payload.size();
  const int form = length_form ? length_form : n < 126 ? 0 : n <= 0xFFFF ? 126 : 127;
  if (form == 0) {
    f += static_cast<char>(m | n);
  } else if (form == 126) {
    f += static_cast<char>(m | 126);
    f += howdy_test::be16(n);
  } else {
    f += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF);
  }
  if (masked) {
    f += key;
    for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  } else {
    f += payload;
  }
  return f;
}

// A frame header claiming `length` bytes (127 form), masked, with no payload.
std::string huge_header(std::uint64_t length, std::uint8_t first = fin | binary_op) {
  std::string f(1, static_cast<char>(first));
  f += static_cast<char>(0x80 | 127);
  for (int i = 7; i >= 0; --i) f += static_cast<char>((length >> (8 * i)) & 0xFF);
  return f + "\x01\x02\x03\x04";
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  return howdy_test::be16(code) + std::string(reason);
}

ws::codec frames_codec() { return ws::codec(ws::codec::phase::frames); }

// Feeds `wire` to a frames-phase reader and the assembler; returns the results.
struct fed {
  std::vector<ws::message_assembler::result> results;
  std::vector<std::string> payloads;  // current() after each non-incomplete result
  std::error_code ec;                 // the assembler's error, or the reader's / codec's
  std::uint16_t close_code = 0;
  std::string close_reason;
};

fed feed(const std::string& wire, ws::message_options mo = {}, howdy::reader_options ro = {}) {
  harness<ws::codec> h(frames_codec(), ro);
  h.stream.chunk(wire).eof();
  ws::message_assembler a(mo);
  fed out;
  for (int guard = 0; guard < 1000; ++guard) {
    auto g = h.poll();
    BOOST_TEST_REQUIRE(g.has_value());
    if (g->ec) {
      out.ec = h.reader.codec().error() ? h.reader.codec().error() : g->ec;
      return out;
    }
    howdy::frame f{std::as_bytes(std::span(g->bytes.data(), g->bytes.size())), {}};
    const auto offset = g->bytes.size() - g->payload.size();
    f.payload = f.bytes.subspan(offset);
    std::error_code ec;
    const auto r = a.on_frame(f, ec);
    if (ec) {
      out.ec = ec;
      return out;
    }
    out.results.push_back(r);
    if (r != ws::message_assembler::result::incomplete) out.payloads.push_back(std::string(a.current().text()));
    if (r == ws::message_assembler::result::close) {
      out.close_code = a.peer_close_code();
      out.close_reason = std::string(a.peer_close_reason());
    }
  }
  BOOST_FAIL("too many frames");
  return out;
}

using result = ws::message_assembler::result;

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket)

// ---------------------------------------------------------------------------
// The opening handshake.

BOOST_AUTO_TEST_CASE(accept_key_of_rfc_example) {
  // RFC 6455 section 1.3.
  BOOST_TEST(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Another, checked with Python's hashlib and base64.
  BOOST_TEST(ws::accept_key("AQIDBAUGBwgJCgsMDQ4PEA==") == "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=");
}

BOOST_AUTO_TEST_CASE(parses_rfc_request) {
  std::error_code ec;
  auto r = ws::parse_upgrade(rfc_request, ec);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(!ec);
  BOOST_TEST(r->target == "/chat");
  BOOST_TEST(r->host == "server.example.com");
  BOOST_TEST(r->key == "dGhlIHNhbXBsZSBub25jZQ==");
  BOOST_TEST(r->has_origin);
  BOOST_TEST(r->origin == "http://example.com");
  BOOST_TEST(r->protocols == "chat, superchat");
  BOOST_TEST(r->field("sec-websocket-version").value_or("") == "13");
  BOOST_TEST(!r->field("Cookie").has_value());

  const auto response = ws::accept_response(*r, "chat");
  BOOST_TEST(response ==
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
  BOOST_TEST(ws::accept_response(*r).find("Sec-WebSocket-Protocol") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(accepts_what_browsers_send) {
  // Names in any case, lists in Connection and Upgrade, no Origin (a non-browser client).
  std::string text =
      "GET /ws?room=1 HTTP/1.1\r\n"
      "host: 127.0.0.1:20002\r\n"
      "CONNECTION: keep-alive, Upgrade\r\n"
      "upgrade: WebSocket\r\n"
      "sec-websocket-version:13\r\n"
      "Sec-WebSocket-Key:   AQIDBAUGBwgJCgsMDQ4PEA==  \r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
      "\r\n";
  std::error_code ec;
  auto r = ws::parse_upgrade(text, ec);
  BOOST_TEST_REQUIRE(r.has_value(), ec.message());
  BOOST_TEST(r->target == "/ws?room=1");
  BOOST_TEST(r->key == "AQIDBAUGBwgJCgsMDQ4PEA==");
  BOOST_TEST(!r->has_origin);
  BOOST_TEST(r->origin.empty());
}

BOOST_AUTO_TEST_CASE(each_bad_request_and_its_status) {
  struct bad_case {
    std::string what, text;
    herr::websocket_errors error;
    int status;
  };
  const std::vector<bad_case> cases = {
      {"POST", with_line("GET", "POST /chat HTTP/1.1"), herr::bad_method, 405},
      {"HTTP/1.0", with_line("GET", "GET /chat HTTP/1.0"), herr::bad_http_version, 505},
      {"not HTTP", with_line("GET", "GET /chat SPDY/3"), herr::bad_request, 400},
      {"absolute target", with_line("GET", "GET http://x/chat HTTP/1.1"), herr::bad_request, 400},
      {"extra space", with_line("GET", "GET  /chat HTTP/1.1"), herr::bad_request, 400},
      {"no Host", with_line("Host", ""), herr::no_host, 400},
      {"empty Host", with_line("Host", "Host: "), herr::no_host, 400},
      {"two Hosts", with_line("Host", "Host: a\r\nHost: b"), herr::no_host, 400},
      {"no Upgrade", with_line("Upgrade", ""), herr::not_websocket_upgrade, 426},
      {"Upgrade h2c", with_line("Upgrade", "Upgrade: h2c"), herr::not_websocket_upgrade, 426},
      {"no Connection", with_line("Connection", ""), herr::no_connection_upgrade, 400},
      {"Connection keep-alive", with_line("Connection", "Connection: keep-alive"), herr::no_connection_upgrade, 400},
      {"no version", with_line("Sec-WebSocket-Version", ""), herr::bad_websocket_version, 426},
      {"version 8", with_line("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), herr::bad_websocket_version, 426},
      {"no key", with_line("Sec-WebSocket-Key", ""), herr::bad_websocket_key, 400},
      {"short key", with_line("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="), herr::bad_websocket_key, 400},
      {"key of 17 bytes", with_line("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSE="),
       herr::bad_websocket_key, 400},
      {"key not canonical", with_line("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR=="),
       herr::bad_websocket_key, 400},
      {"key bad char", with_line("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q=="),
       herr::bad_websocket_key, 400},
      {"two keys", with_line("Sec-WebSocket-Key",
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="),
       herr::bad_websocket_key, 400},
      {"space before colon", with_line("Origin", "Origin : http://example.com"), herr::bad_request, 400},
      {"folded line", with_line("Origin", "Origin: http://example.com\r\n  .org"), herr::bad_request, 400},
      {"no colon", with_line("Origin", "Origin http://example.com"), herr::bad_request, 400},
      {"bare LF", with_line("Origin", "Origin: a\nX-Smuggle: b"), herr::bad_request, 400},
      {"control char", with_line("Origin", std::string("Origin: a\x01z")), herr::bad_request, 400},
      {"NUL in value", with_line("Origin", std::string("Origin: a\0z", 11)), herr::bad_request, 400},
      {"two Origins", with_line("Origin", "Origin: a\r\nOrigin: b"), herr::bad_request, 400},
      {"not ended", rfc_request.substr(0, rfc_request.size() - 2), herr::bad_request, 400},
      {"LF only", "GET / HTTP/1.1\nHost: a\n\n", herr::bad_request, 400},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      const auto ec = parse_error(c.text);
      BOOST_TEST(ec == c.error, ec.message());
      BOOST_TEST(ws::http_status(ec) == c.status);
      BOOST_TEST(ec == howdy::condition::protocol_violation);
      const auto response = ws::error_response(ec);
      BOOST_TEST(response.starts_with("HTTP/1.1 " + std::to_string(c.status) + " "));
      BOOST_TEST(response.find("Connection: close\r\n") != std::string::npos);
      BOOST_TEST(response.ends_with("\r\n\r\n" + ec.message() + "\n"));
      if (c.status == 426) BOOST_TEST(response.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(request_limits) {
  ws::upgrade_limits limits;
  limits.max_fields = 7;  // as many as rfc_request has
  BOOST_TEST(!parse_error(rfc_request, limits));
  BOOST_TEST(parse_error(with_line("Origin", "Origin: a\r\nX-A: 1"), limits) == herr::request_too_large);
  limits.max_fields = 64;
  limits.max_request_size = rfc_request.size();
  BOOST_TEST(!parse_error(rfc_request, limits));
  BOOST_TEST(parse_error(with_line("Origin", "Origin: http://example.com1"), limits) == herr::request_too_large);
  BOOST_TEST(ws::http_status(herr::request_too_large) == 431);
  BOOST_TEST(ws::error_response(herr::forbidden_origin).starts_with("HTTP/1.1 403 Forbidden\r\n"));
}

BOOST_AUTO_TEST_CASE(codec_hands_out_the_request_then_frames) {
  const std::string wire = rfc_request + client_frame(fin | text_op, "hi") + client_frame(fin | ping_op, "");
  // Frame payloads come out as sent: still masked.
  howdy_test::check_every_split(ws::codec{}, wire, {rfc_request, client_frame(fin | text_op, "hi").substr(6), ""});
}

BOOST_AUTO_TEST_CASE(codec_refuses_a_request_over_the_limit_before_it_ends) {
  harness<ws::codec> h(ws::codec(ws::codec::phase::handshake, 64));
  h.stream.chunk("GET / HTTP/1.1\r\n" + std::string(100, 'a'));
  auto g = h.next();
  BOOST_TEST(g.ec == herr::frame_too_large);
  BOOST_TEST(h.reader.codec().error() == herr::request_too_large);
  BOOST_TEST(h.reader.codec().current_phase() == ws::codec::phase::handshake);
}

// ---------------------------------------------------------------------------
// Frames.

BOOST_AUTO_TEST_CASE(frames_split_at_every_byte) {
  const std::string big(300, 'x');
  const std::string wire = client_frame(fin | text_op, "hello") + client_frame(binary_op, big) +
                           client_frame(fin | cont_op, "") + client_frame(fin | close_op, close_payload(1000));
  howdy_test::check_every_split(frames_codec(), wire,
                                {client_frame(fin | text_op, "hello").substr(6), client_frame(binary_op, big).substr(8),
                                 "", client_frame(fin | close_op, close_payload(1000)).substr(6)});
}

BOOST_AUTO_TEST_CASE(header_violations) {
  struct bad_case {
    std::string what, wire;
    herr::websocket_errors error;
  };
  const std::vector<bad_case> cases = {
      {"unmasked", client_frame(fin | text_op, "hi", false), herr::unmasked_frame},
      {"unmasked control", client_frame(fin | ping_op, "", false), herr::unmasked_frame},
      {"RSV1", client_frame(fin | 0x40 | text_op, "hi"), herr::reserved_bits},
      {"RSV3", client_frame(fin | 0x10 | text_op, "hi"), herr::reserved_bits},
      {"opcode 3", client_frame(fin | 3, "hi"), herr::bad_opcode},
      {"opcode 11", client_frame(fin | 11, "hi"), herr::bad_opcode},
      {"fragmented ping", client_frame(ping_op, "hi"), herr::bad_control_frame},
      {"fragmented close", client_frame(close_op, ""), herr::bad_control_frame},
      {"ping of 126", client_frame(fin | ping_op, std::string(126, 'p')), herr::bad_control_frame},
      {"16-bit length of 5", client_frame(fin | text_op, "hello", true, 126), herr::bad_frame_length},
      {"64-bit length of 200", client_frame(fin | text_op, std::string(200, 'a'), true, 127), herr::bad_frame_length},
      {"64-bit length, top bit", huge_header(0x8000000000000001ull), herr::bad_frame_length},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      harness<ws::codec> h(frames_codec());
      h.stream.chunk(c.wire);
      auto g = h.next();
      BOOST_TEST(g.ec == herr::malformed_frame);
      BOOST_TEST(h.reader.codec().error() == c.error);
      BOOST_TEST(ws::close_code_for(h.reader.codec().error()) == ws::close_code::protocol_error);
    }
  }
}

BOOST_AUTO_TEST_CASE(oversize_lengths_fail_before_the_payload) {
  for (std::uint64_t length : {std::uint64_t{1} << 40, std::uint64_t{0x7FFFFFFFFFFFFFFF}, std::uint64_t{65536}}) {
    BOOST_TEST_CONTEXT("length " << length) {
      harness<ws::codec> h(frames_codec(), howdy_test::small_frames(16 * 1024));
      const auto head = huge_header(length);
      h.stream.chunk(head);  // nothing more: the reader must not wait for the payload
      auto g = h.next();
      BOOST_TEST(g.ec == herr::frame_too_large);
      BOOST_TEST(h.reader.codec().error() == herr::message_too_big);
      BOOST_TEST(ws::close_code_for(h.reader.codec().error()) == ws::close_code::too_big);
      BOOST_TEST(h.stream.bytes_served() == head.size());
    }
  }
  {  // A 64-bit length's header (14 bytes) cannot fit 10: refused from its first two bytes.
    harness<ws::codec> h(frames_codec(), howdy_test::small_frames(10));
    h.stream.chunk(std::string("\x82\xFF", 2));
    BOOST_TEST(h.next().ec == herr::frame_too_large);
    BOOST_TEST(h.reader.codec().error() == herr::message_too_big);
  }
  // At the limit exactly: fits.
  const std::size_t max = 1000;
  const std::string payload(max - 8, 'a');  // 4 header bytes, 4 key bytes
  auto r = feed(client_frame(fin | binary_op, payload), {}, howdy_test::small_frames(max));
  BOOST_TEST_REQUIRE(r.payloads.size() == 1u);
  BOOST_TEST(r.payloads[0] == payload);
  BOOST_TEST(r.ec == herr::end_of_stream);
  r = feed(client_frame(fin | binary_op, payload + "a"), {}, howdy_test::small_frames(max));
  BOOST_TEST(r.ec == herr::message_too_big);
}

// ---------------------------------------------------------------------------
// Messages.

BOOST_AUTO_TEST_CASE(unmasks) {
  const std::string text = "Hello, WebSocket! \xC3\xA9\xE2\x82\xAC";
  for (std::string_view key : {"\x00\x00\x00\x00", "\xFF\x80\x01\x7F", "\x37\xfa\x21\x3d"}) {
    auto r = feed(client_frame(fin | text_op, text, true, 0, std::string(key.data(), 4)));
    BOOST_TEST_REQUIRE(r.payloads.size() == 1u);
    BOOST_TEST(r.payloads[0] == text);
    BOOST_TEST(r.results[0] == result::message);
  }
  // RFC 6455 section 5.7: a masked "Hello".
  const std::string rfc("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  auto r = feed(rfc);
  BOOST_TEST_REQUIRE(r.payloads.size() == 1u);
  BOOST_TEST(r.payloads[0] == "Hello");
}

BOOST_AUTO_TEST_CASE(fragments_with_control_frames_between_them) {
  // "Hel" + ping + "lo" + pong + " w" + "orld": one message, the control frames in their places.
  const std::string wire = client_frame(text_op, "Hel") + client_frame(fin | ping_op, "are you there") +
                           client_frame(cont_op, "lo") + client_frame(fin | pong_op, "pong data") +
                           client_frame(cont_op, " w", true, 0, "\x01\x02\x03\x04") + client_frame(fin | cont_op, "orld") +
                           client_frame(fin | binary_op, std::string("\x00\xFF", 2));
  auto r = feed(wire);
  BOOST_TEST(r.ec == herr::end_of_stream);
  const std::vector<result> want = {result::incomplete, result::ping,       result::incomplete, result::pong,
                                    result::incomplete, result::message,    result::message};
  BOOST_TEST(r.results == want, boost::test_tools::per_element());
  const std::vector<std::string> payloads = {"are you there", "pong data", "Hello world", std::string("\x00\xFF", 2)};
  BOOST_TEST(r.payloads == payloads, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(continuations_out_of_place) {
  BOOST_TEST(feed(client_frame(fin | cont_op, "x")).ec == herr::bad_continuation);
  BOOST_TEST(feed(client_frame(text_op, "a") + client_frame(fin | text_op, "b")).ec == herr::bad_continuation);
  BOOST_TEST(feed(client_frame(text_op, "a") + client_frame(binary_op, "b")).ec == herr::bad_continuation);
  // After a whole message, a continuation is out of place again.
  auto r = feed(client_frame(text_op, "a") + client_frame(fin | cont_op, "b") + client_frame(fin | cont_op, "c"));
  BOOST_TEST(r.payloads == std::vector<std::string>{"ab"}, boost::test_tools::per_element());
  BOOST_TEST(r.ec == herr::bad_continuation);
  BOOST_TEST(ws::close_code_for(herr::bad_continuation) == ws::close_code::protocol_error);
}

BOOST_AUTO_TEST_CASE(message_size_counts_every_fragment) {
  ws::message_options mo;
  mo.max_message_size = 10;
  auto r = feed(client_frame(text_op, "12345") + client_frame(fin | cont_op, "67890"), mo);
  BOOST_TEST(r.payloads == std::vector<std::string>{"1234567890"}, boost::test_tools::per_element());
  r = feed(client_frame(text_op, "12345") + client_frame(cont_op, "67890") + client_frame(fin | cont_op, "!"), mo);
  BOOST_TEST(r.payloads.empty());
  BOOST_TEST(r.ec == herr::message_too_big);
  BOOST_TEST(feed(client_frame(fin | binary_op, "12345678901"), mo).ec == herr::message_too_big);
  // Control frames do not count towards it.
  r = feed(client_frame(text_op, "12345") + client_frame(fin | ping_op, std::string(100, 'p')) +
               client_frame(fin | cont_op, "67890"),
           mo);
  BOOST_TEST(r.payloads.size() == 2u);
}

BOOST_AUTO_TEST_CASE(utf8_of_text_messages) {
  // Valid UTF-8 split inside a character, across fragments.
  auto r = feed(client_frame(text_op, "caf\xC3") + client_frame(fin | cont_op, "\xA9"));
  BOOST_TEST(r.payloads == std::vector<std::string>{"caf\xC3\xA9"}, boost::test_tools::per_element());
  for (std::string bad : {"\xC3", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ok\xFF"}) {
    BOOST_TEST_CONTEXT("bytes " << bad.size()) {
      auto b = feed(client_frame(fin | text_op, bad));
      BOOST_TEST(b.ec == herr::bad_utf8);
      BOOST_TEST(ws::close_code_for(b.ec) == ws::close_code::bad_payload);
      // Binary messages are not text: anything goes.
      BOOST_TEST(feed(client_frame(fin | binary_op, bad)).payloads.size() == 1u);
    }
  }
  // A message cut inside a character, ended by its last fragment.
  BOOST_TEST(feed(client_frame(text_op, "a") + client_frame(fin | cont_op, "\xE2\x82")).ec == herr::bad_utf8);
  ws::message_options off;
  off.check_utf8 = false;
  BOOST_TEST(feed(client_frame(fin | text_op, "\xFF"), off).payloads.size() == 1u);
}

BOOST_AUTO_TEST_CASE(close_payloads) {
  auto r = feed(client_frame(fin | close_op, ""));
  BOOST_TEST_REQUIRE(r.results.size() == 1u);
  BOOST_TEST(r.results[0] == result::close);
  BOOST_TEST(r.close_code == 1005);

  r = feed(client_frame(fin | close_op, close_payload(1001, "bye \xC3\xA9")));
  BOOST_TEST_REQUIRE(r.results.size() == 1u);
  BOOST_TEST(r.close_code == 1001);
  BOOST_TEST(r.close_reason == "bye \xC3\xA9");
  BOOST_TEST(feed(client_frame(fin | close_op, close_payload(4000))).close_code == 4000);
  BOOST_TEST(feed(client_frame(fin | close_op, close_payload(3000))).close_code == 3000);

  BOOST_TEST(feed(client_frame(fin | close_op, "x")).ec == herr::bad_close_frame);
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    BOOST_TEST_CONTEXT("code " << code) {
      BOOST_TEST(feed(client_frame(fin | close_op, close_payload(code))).ec == herr::bad_close_frame);
      BOOST_TEST(!ws::is_valid_close_code(code));
    }
  }
  BOOST_TEST(feed(client_frame(fin | close_op, close_payload(1000, "\xC0\xAF"))).ec == herr::bad_utf8);
  // A close between fragments is still a close.
  r = feed(client_frame(text_op, "a") + client_frame(fin | close_op, close_payload(1000)));
  BOOST_TEST(r.results.back() == result::close);
}

// ---------------------------------------------------------------------------
// Server frames.

BOOST_AUTO_TEST_CASE(server_frames_are_unmasked_with_the_shortest_length) {
  BOOST_TEST(str(ws::encode_text("hi").bytes()) == std::string("\x81\x02hi", 4));
  BOOST_TEST(str(ws::encode_text("").bytes()) == std::string("\x81\x00", 2));
  struct sized {
    std::size_t n;
    std::string header;
  };
  for (const auto& c : {sized{125, std::string("\x82\x7D", 2)}, sized{126, std::string("\x82\x7E\x00\x7E", 4)},
                        sized{65535, std::string("\x82\x7E\xFF\xFF", 4)},
                        sized{65536, std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10)}}) {
    BOOST_TEST_CONTEXT("payload " << c.n) {
      const std::string payload(c.n, 'z');
      const auto f = ws::encode_binary(std::as_bytes(std::span(payload.data(), payload.size())));
      BOOST_TEST(f.size() == ws::frame_size(c.n));
      BOOST_TEST(str(f.bytes()) == c.header + payload);
    }
  }
  BOOST_TEST(str(ws::encode_close(ws::close_code::protocol_error).bytes()) == std::string("\x88\x02\x03\xEA", 4));
  BOOST_TEST(str(ws::encode_close(1005).bytes()) == std::string("\x88\x00", 2));
  BOOST_TEST(str(ws::encode_close(1000, "ok").bytes()) == std::string("\x88\x04\x03\xE8ok", 6));
  const std::string p = "ping!";
  BOOST_TEST(str(ws::encode_pong(std::as_bytes(std::span(p.data(), p.size()))).bytes()) == "\x8A\x05ping!");
  // Control payloads are cut to 125 bytes, a reason at a character boundary.
  const std::string long_reason = std::string(122, 'r') + "\xE2\x82\xAC";  // 125 bytes: the euro does not fit
  const auto c = ws::encode_close(1000, long_reason);
  BOOST_TEST(c.size() == 2u + 2u + 122u);
  BOOST_TEST(howdy::is_valid_utf8(str(c.bytes()).substr(4)));
}

BOOST_AUTO_TEST_CASE(one_encoded_frame_for_every_subscriber) {
  // The fan-out shape: the same shared bytes, whatever the number of recipients.
  const auto f = ws::encode_text("to everyone");
  std::vector<howdy::shared_buffer> queued(1000, f);
  for (const auto& q : queued) BOOST_TEST(q.data() == f.data());
}

// ---------------------------------------------------------------------------
// Errors.

BOOST_AUTO_TEST_CASE(error_category_and_conditions) {
  const std::error_code ec = herr::unmasked_frame;
  BOOST_TEST(ec.category().name() == std::string("howdy.websocket"));
  BOOST_TEST(ec.message() == "a client frame was not masked");
  BOOST_TEST(ec == howdy::condition::protocol_violation);
  BOOST_TEST(std::error_code(herr::bad_utf8) == howdy::condition::protocol_violation);
  BOOST_TEST(std::error_code(herr::message_too_big) == howdy::condition::protocol_violation);
  BOOST_TEST(std::error_code(herr::closed) == howdy::condition::peer_gone);
  BOOST_TEST(std::error_code(herr::closed) != howdy::condition::protocol_violation);
  BOOST_TEST(std::error_code(herr::forbidden_origin) != howdy::condition::protocol_violation);
  BOOST_TEST(std::error_code(herr::bad_utf8) != herr::malformed_frame);
  BOOST_TEST(std::error_code(static_cast<herr::websocket_errors>(999)).message() == "unknown websocket error");
  BOOST_TEST(ws::close_code_for(herr::closed) == ws::close_code::normal);
  BOOST_TEST(ws::close_code_for(herr::forbidden_origin) == ws::close_code::policy_violation);
  BOOST_TEST(ws::close_code_for(herr::frame_too_large) == ws::close_code::internal_error);
  for (int e = herr::unmasked_frame; e <= herr::closed; ++e)
    BOOST_TEST(ws::http_status(static_cast<herr::websocket_errors>(e)) == 400);
}

// ---------------------------------------------------------------------------
// message_reader over loopback sockets.

namespace {

using asio::ip::tcp;

// Runs a message_reader session on pair.server (echoing each message as text
// to the same client) while `client` drives pair.client; returns what the
// server session saw.
struct session_log {
  std::error_code upgrade_ec, end_ec;
  std::vector<std::string> messages;
  std::uint16_t peer_code = 0;
  std::string origin;
};

// `on_end` runs once next() has failed, with the session's outbox (say, to
// push what a hub would publish after the close).
template <class Client>
session_log run_session(Client client, ws::options options = {}, std::string_view allowed_origin = {},
                        std::function<void(howdy::outbox&)> on_end = {}) {
  asio::io_context ctx;
  howdy_test::socket_pair pair(ctx);
  session_log log;
  bool server_done = false;
  auto server = [&]() -> asio::awaitable<void> {
    auto box = std::make_shared<howdy::outbox>(pair.server.get_executor());
    ws::message_reader<tcp::socket> session(pair.server, *box, options);
    auto read_loop = [&]() -> asio::awaitable<void> {
      auto [ec, request] = co_await session.read_upgrade();
      log.upgrade_ec = ec;
      if (ec) co_return;
      log.origin = std::string(request.origin);
      if (!allowed_origin.empty() && request.origin != allowed_origin) {
        log.upgrade_ec = herr::forbidden_origin;
        session.reject(herr::forbidden_origin);
        co_return;
      }
      session.accept(request);
      for (;;) {
        auto [mec, msg] = co_await session.next();
        if (mec) {
          log.end_ec = mec;
          log.peer_code = session.peer_close_code();
          if (on_end) on_end(*box);
          co_return;
        }
        log.messages.emplace_back(msg.text());
        box->push(msg.type == ws::opcode::text ? ws::encode_text(msg.text()) : ws::encode_binary(msg.payload));
      }
    };
    co_await howdy::run_duplex(pair.server, *box, read_loop());
    pair.server.close();
    server_done = true;
  };
  howdy_test::run_bounded(ctx, [&]() -> asio::awaitable<void> {
    asio::co_spawn(ctx, server(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    co_await client(pair.client);
    // The client has seen the server end the connection: the session is over or ending.
    for (int i = 0; i < 1000 && !server_done; ++i) {
      asio::steady_timer t(ctx, std::chrono::milliseconds(5));
      co_await t.async_wait(asio::use_awaitable);
    }
  });
  BOOST_TEST(server_done);
  return log;
}

asio::awaitable<void> send(tcp::socket& s, const std::string& bytes) {
  co_await asio::async_write(s, asio::buffer(bytes), asio::use_awaitable);
}

// Reads everything until the server closes the connection.
asio::awaitable<std::string> read_to_end(tcp::socket& s) {
  std::string all;
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    all.append(buf, n);
    if (ec) co_return all;
  }
}

const std::string accept_101 =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

}  // namespace

BOOST_AUTO_TEST_CASE(session_handshake_messages_ping_and_close) {
  std::string got;
  auto log = run_session([&](tcp::socket& c) -> asio::awaitable<void> {
    co_await send(c, rfc_request);
    co_await send(c, client_frame(text_op, "hel") + client_frame(fin | ping_op, "p1") + client_frame(fin | cont_op, "lo") +
                         client_frame(fin | binary_op, "bin") + client_frame(fin | close_op, close_payload(1001, "bye")));
    got = co_await read_to_end(c);
  });
  BOOST_TEST(!log.upgrade_ec);
  BOOST_TEST(log.origin == "http://example.com");
  BOOST_TEST(log.messages == (std::vector<std::string>{"hello", "bin"}), boost::test_tools::per_element());
  BOOST_TEST(log.end_ec == herr::closed);
  BOOST_TEST(log.peer_code == 1001);
  // The 101, the pong (sent when the ping arrived, before the message it interrupted
  // was complete), the echoes, and the close echoing 1001.
  const std::string want = accept_101 + std::string("\x8A\x02p1", 4) + "\x81\x05hello" + "\x82\x03" "bin" +
                           std::string("\x88\x02\x03\xE9", 4);
  BOOST_TEST(got == want);
}

BOOST_AUTO_TEST_CASE(session_refuses_bad_requests_over_http) {
  std::string got;
  auto log = run_session([&](tcp::socket& c) -> asio::awaitable<void> {
    co_await send(c, with_line("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"));
    got = co_await read_to_end(c);
  });
  BOOST_TEST(log.upgrade_ec == herr::bad_websocket_version);
  BOOST_TEST(got == ws::error_response(herr::bad_websocket_version));

  ws::options small;
  small.upgrade.max_request_size = 128;
  log = run_session(
      [&](tcp::socket& c) -> asio::awaitable<void> {
        co_await send(c, "GET / HTTP/1.1\r\nX: " + std::string(1000, 'a'));  // never ends
        got = co_await read_to_end(c);
      },
      small);
  BOOST_TEST(log.upgrade_ec == herr::request_too_large);
  BOOST_TEST(got.starts_with("HTTP/1.1 431 "));

  log = run_session(
      [&](tcp::socket& c) -> asio::awaitable<void> {
        co_await send(c, rfc_request);
        got = co_await read_to_end(c);
      },
      {}, "https://howdy.example");
  BOOST_TEST(log.upgrade_ec == herr::forbidden_origin);
  BOOST_TEST(got.starts_with("HTTP/1.1 403 Forbidden\r\n"));
}

BOOST_AUTO_TEST_CASE(session_closes_hostile_peers_with_the_right_code) {
  struct hostile {
    std::string what, frames;
    std::uint16_t code;
    herr::websocket_errors error;
  };
  ws::options options;
  options.reader.max_frame_size = 4096;
  options.messages.max_message_size = 8192;
  const std::vector<hostile> cases = {
      {"unmasked", client_frame(fin | text_op, "hi", false), 1002, herr::unmasked_frame},
      {"oversize 64-bit length", huge_header(std::uint64_t{1} << 62), 1009, herr::message_too_big},
      {"message over the limit", client_frame(binary_op, std::string(4000, 'a')) +
                                     client_frame(cont_op, std::string(4000, 'a')) +
                                     client_frame(fin | cont_op, std::string(4000, 'a')),
       1009, herr::message_too_big},
      {"bad UTF-8", client_frame(fin | text_op, "bad \xFF"), 1007, herr::bad_utf8},
      {"bad close code", client_frame(fin | close_op, close_payload(1005)), 1002, herr::bad_close_frame},
      {"stray continuation", client_frame(fin | cont_op, "x"), 1002, herr::bad_continuation},
  };
  for (const auto& h : cases) {
    BOOST_TEST_CONTEXT(h.what) {
      std::string got;
      auto log = run_session(
          [&](tcp::socket& c) -> asio::awaitable<void> {
            co_await send(c, rfc_request + client_frame(fin | text_op, "first") + h.frames);
            got = co_await read_to_end(c);
          },
          options);
      BOOST_TEST(log.messages == std::vector<std::string>{"first"}, boost::test_tools::per_element());
      BOOST_TEST(log.end_ec == h.error);
      const std::string close = std::string("\x88\x02", 2) + howdy_test::be16(h.code);
      BOOST_TEST(got == accept_101 + "\x81\x05" "first" + close);
    }
  }
}

BOOST_AUTO_TEST_CASE(nothing_is_sent_after_the_close_frame) {
  // A close echoed, then a protocol error: a frame pushed once the close frame
  // is queued (as a hub publishing to every subscriber would) is not written.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {client_frame(fin | close_op, close_payload(1000)), std::string("\x88\x02\x03\xE8", 4)},
      {client_frame(fin | text_op, "bad \xFF"), std::string("\x88\x02\x03\xEF", 4)},
  };
  for (const auto& [frames, close] : cases) {
    std::string got;
    bool late_pushed = true;
    run_session(
        [&](tcp::socket& c) -> asio::awaitable<void> {
          co_await send(c, rfc_request + client_frame(fin | text_op, "first") + frames);
          got = co_await read_to_end(c);
        },
        {}, {}, [&](howdy::outbox& box) { late_pushed = box.push(ws::encode_text("late")); });
    BOOST_TEST(!late_pushed);
    BOOST_TEST(got == accept_101 + "\x81\x05" "first" + close);
  }
}

BOOST_AUTO_TEST_CASE(default_limits_accept_a_large_single_frame_message) {
  // Browsers send a message as one frame: the default frame limit follows the
  // message limit (1 MiB + the largest header), not the reader's 64 KiB.
  const ws::options defaults;
  BOOST_TEST(defaults.effective_max_frame_size() == defaults.messages.max_message_size + 14);
  const std::string big(100 * 1024, 'b');
  std::string got;
  auto log = run_session([&](tcp::socket& c) -> asio::awaitable<void> {
    co_await send(c, rfc_request + client_frame(fin | binary_op, big) + client_frame(fin | close_op, close_payload(1000)));
    got = co_await read_to_end(c);
  });
  BOOST_TEST(!log.upgrade_ec);
  BOOST_TEST(log.end_ec == herr::closed);
  BOOST_TEST(log.messages.size() == 1u);
  BOOST_TEST((log.messages.size() == 1u && log.messages[0] == big));
  // The echo (127 length form) precedes the close.
  BOOST_TEST(got.size() == accept_101.size() + 10 + big.size() + 4);

  // An explicit frame limit still applies.
  ws::options small;
  small.reader.max_frame_size = 64 * 1024;
  BOOST_TEST(small.effective_max_frame_size() == 64u * 1024);
  log = run_session(
      [&](tcp::socket& c) -> asio::awaitable<void> {
        co_await send(c, rfc_request + client_frame(fin | binary_op, big));
        got = co_await read_to_end(c);
      },
      small);
  BOOST_TEST(log.end_ec == herr::message_too_big);
}

BOOST_AUTO_TEST_SUITE_END()
