// WebSocket (RFC 6455), the server side: the HTTP/1.1 upgrade, a frame codec
// for the framed reader, the message layer (unmasking, fragments, ping/pong,
// the close handshake, UTF-8 of text) and the encoding of server frames.
// Server frames are never masked, so one encoded frame (a shared_buffer)
// serves every WebSocket subscriber: encode once, fan out.
//
//   howdy::websocket::message_reader ws(socket, *box);      // reads the upgrade, then messages
//   auto [ec, request] = co_await ws.read_upgrade();          // a bad request got its 4xx
//   if (ec) co_return;
//   if (request.origin != "https://example.org") { ws.reject(howdy::error::forbidden_origin); co_return; }
//   ws.accept(request);                                       // 101 Switching Protocols
//   for (;;) {
//     auto [ec, msg] = co_await ws.next();                    // pings answered, close echoed
//     if (ec) break;                                          // error::closed, bad_utf8, ...
//     hub.publish(howdy::websocket::encode_text(msg.text()), box.get());
//   }
//
// The Sec-WebSocket-Accept key is computed with OpenSSL (libcrypto): a program
// that uses accept_key() or message_reader::accept() links libcrypto.
#pragma once

#include <howdy/detail/websocket.hpp>
#include <howdy/error.hpp>
#include <howdy/frame_codec.hpp>
#include <howdy/framed_reader.hpp>
#include <howdy/outbox.hpp>
#include <howdy/shared_buffer.hpp>
#include <howdy/utf8.hpp>

#include <openssl/evp.h>

#include <asio/awaitable.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace howdy {
namespace error {

// Why a WebSocket upgrade was refused or a WebSocket connection failed.
enum websocket_errors {
  // The upgrade request (each has an HTTP status: http_status()).
  bad_request = 1,        // 400: not an HTTP/1.1 request line and header fields
  request_too_large,      // 431: the request or its header count is over the limit
  bad_method,             // 405: the method is not GET
  bad_http_version,       // 505: not HTTP/1.1
  no_host,                // 400: no Host field, or more than one
  not_websocket_upgrade,  // 426: no "Upgrade: websocket" (a plain HTTP request)
  no_connection_upgrade,  // 400: Connection does not list "Upgrade"
  bad_websocket_version,  // 426: Sec-WebSocket-Version is not 13
  bad_websocket_key,      // 400: Sec-WebSocket-Key is not the base64 of 16 bytes
  forbidden_origin,       // 403: not produced by the library: for the caller's Origin check
  // Frames and messages (each has a close code: close_code_for()).
  unmasked_frame,         // 1002: a client frame without a mask
  reserved_bits,          // 1002: RSV1..3 set (no extension was agreed)
  bad_opcode,             // 1002: an opcode RFC 6455 does not define
  bad_control_frame,      // 1002: a control frame that is fragmented or longer than 125 bytes
  bad_continuation,       // 1002: a continuation with no message begun, or a new message inside one
  bad_frame_length,       // 1002: a length not in its shortest form, or with the top bit set
  bad_close_frame,        // 1002: a close payload of 1 byte, or a status code not allowed on the wire
  message_too_big,        // 1009: a frame or a message over the limit
  bad_utf8,               // 1007: a text message or a close reason that is not UTF-8
  closed,                 // the peer closed the connection (the close handshake)
};

}  // namespace error
}  // namespace howdy

template <>
struct std::is_error_code_enum<howdy::error::websocket_errors> : std::true_type {};

namespace howdy {
namespace detail {

inline const char* error_message(error::websocket_errors e) noexcept {
  switch (e) {
    case error::bad_request: return "not a valid HTTP request";
    case error::request_too_large: return "the request is too large";
    case error::bad_method: return "the method must be GET";
    case error::bad_http_version: return "the HTTP version must be 1.1";
    case error::no_host: return "the request must have one Host field";
    case error::not_websocket_upgrade: return "this resource needs a WebSocket upgrade";
    case error::no_connection_upgrade: return "the Connection field must list Upgrade";
    case error::bad_websocket_version: return "the WebSocket version must be 13";
    case error::bad_websocket_key: return "the Sec-WebSocket-Key field is not valid";
    case error::forbidden_origin: return "that origin is not allowed";
    case error::unmasked_frame: return "a client frame was not masked";
    case error::reserved_bits: return "a frame has reserved bits set";
    case error::bad_opcode: return "a frame has an unknown opcode";
    case error::bad_control_frame: return "a control frame is fragmented or too long";
    case error::bad_continuation: return "a continuation frame is out of place";
    case error::bad_frame_length: return "a frame length is not in its shortest form";
    case error::bad_close_frame: return "a close frame is not valid";
    case error::message_too_big: return "a message is larger than the allowed maximum";
    case error::bad_utf8: return "a text message is not valid UTF-8";
    case error::closed: return "the peer closed the WebSocket connection";
  }
  return "unknown websocket error";
}

// As detail::error_category, and it maps its codes onto howdy::condition.
class websocket_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "howdy.websocket"; }
  std::string message(int ev) const override { return error_message(static_cast<error::websocket_errors>(ev)); }
  bool equivalent(int code, const std::error_condition& cond) const noexcept override {
    if (cond == condition::peer_gone) return code == error::closed;
    if (cond == condition::protocol_violation)
      return code >= error::bad_request && code <= error::bad_utf8 && code != error::forbidden_origin;
    return default_error_condition(code) == cond;
  }
};

}  // namespace detail

namespace error {

inline const std::error_category& get_websocket_category() noexcept {
  static const detail::websocket_category instance;
  return instance;
}
inline std::error_code make_error_code(websocket_errors e) noexcept { return {e, get_websocket_category()}; }

}  // namespace error

namespace websocket {

// The opcodes of RFC 6455 section 5.2.
enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close status codes (RFC 6455 section 7.4.1) that a server sends or receives.
enum class close_code : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  no_status = 1005,  // never on the wire: a close frame without a code
  abnormal = 1006,   // never on the wire: the connection dropped without a close frame
  bad_payload = 1007,
  policy_violation = 1008,
  too_big = 1009,
  missing_extension = 1010,
  internal_error = 1011,
};

// May `code` appear in a close frame? 1000-1003, 1007-1014 and 3000-4999.
constexpr bool is_valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

// The close code that answers `ec` (a websocket error): 1002, 1007 or 1009;
// 1000 for error::closed; 1008 for forbidden_origin; 1011 for anything else.
inline close_code close_code_for(std::error_code ec) noexcept {
  if (ec.category() != error::get_websocket_category()) return close_code::internal_error;
  switch (static_cast<error::websocket_errors>(ec.value())) {
    case error::closed: return close_code::normal;
    case error::message_too_big: return close_code::too_big;
    case error::bad_utf8: return close_code::bad_payload;
    case error::forbidden_origin: return close_code::policy_violation;
    default: return ec.value() >= error::unmasked_frame ? close_code::protocol_error : close_code::internal_error;
  }
}

// The HTTP status that refuses an upgrade failing with `ec`: 400, 403, 405,
// 426, 431 or 505; 400 for an error that is not an upgrade error.
inline int http_status(std::error_code ec) noexcept {
  if (ec.category() != error::get_websocket_category()) return 400;
  switch (static_cast<error::websocket_errors>(ec.value())) {
    case error::request_too_large: return 431;
    case error::bad_method: return 405;
    case error::bad_http_version: return 505;
    case error::not_websocket_upgrade:
    case error::bad_websocket_version: return 426;
    case error::forbidden_origin: return 403;
    default: return 400;
  }
}

// ---------------------------------------------------------------------------
// The opening handshake (RFC 6455 section 4.2).

struct upgrade_limits {
  std::size_t max_request_size = 8 * 1024;  // request line and header fields, the blank line included
  std::size_t max_fields = 64;              // header fields
};

// An upgrade request that parse_upgrade() accepted. Views into the request's
// text: copy what outlives it.
struct upgrade_request {
  std::string_view target;     // the request target, as "/ws?room=1" (origin-form: starts with '/')
  std::string_view host;       // the Host field
  std::string_view key;        // Sec-WebSocket-Key
  std::string_view origin;     // the Origin field, empty if none (browsers always send one)
  bool has_origin = false;
  std::string_view protocols;  // Sec-WebSocket-Protocol as sent (a list), empty if none
  std::string_view user_agent; // empty if none

  // The value of the first field named `name` (ASCII case-insensitive), if any.
  std::optional<std::string_view> field(std::string_view name) const noexcept {
    std::string_view rest = fields_;
    while (!rest.empty()) {
      const std::size_t end = rest.find("\r\n");
      const std::string_view line = rest.substr(0, end);
      rest.remove_prefix(end + 2);
      const std::size_t colon = line.find(':');
      if (detail::ws::ascii_iequal(line.substr(0, colon), name)) return detail::ws::trim_blanks(line.substr(colon + 1));
    }
    return std::nullopt;
  }

 private:
  friend std::optional<upgrade_request> parse_upgrade(std::string_view, std::error_code&, const upgrade_limits&);
  std::string_view fields_;  // the header field lines, each ending with "\r\n"
};

// Parses a whole upgrade request: the request line, the header fields and the
// blank line ("\r\n\r\n" ends it). Strict: lines end with CRLF, field names are
// tokens with no blank before the colon, no line folding, no control
// characters in values, one Host. nullopt with `ec` set if refused (answer it
// with error_response(ec)). The Origin is not judged: check request.origin.
inline std::optional<upgrade_request> parse_upgrade(std::string_view text, std::error_code& ec,
                                                    const upgrade_limits& limits = {}) {
  namespace ws = detail::ws;
  ec = {};
  const auto fail = [&](error::websocket_errors e) -> std::optional<upgrade_request> {
    ec = e;
    return std::nullopt;
  };
  if (text.size() > limits.max_request_size) return fail(error::request_too_large);
  if (text.size() < 4 || text.substr(text.size() - 4) != "\r\n\r\n") return fail(error::bad_request);

  // Request line: method SP target SP version CRLF.
  const std::size_t line_end = text.find("\r\n");
  const std::string_view line = text.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(error::bad_request);
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!ws::is_token(method) || target.empty() || target.front() != '/') return fail(error::bad_request);
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) return fail(error::bad_request);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[5] < '0' || version[5] > '9' ||
      version[6] != '.' || version[7] < '0' || version[7] > '9')
    return fail(error::bad_request);

  upgrade_request r;
  r.target = target;
  r.fields_ = text.substr(line_end + 2, text.size() - 2 - (line_end + 2));
  std::optional<std::string_view> upgrade, connection, ws_version, key, host;
  std::size_t fields = 0;
  for (std::string_view rest = r.fields_; !rest.empty();) {
    const std::size_t end = rest.find("\r\n");  // fields_ ends with "\r\n": always found
    const std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end + 2);
    if (++fields > limits.max_fields) return fail(error::request_too_large);
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return fail(error::bad_request);
    const std::string_view name = field.substr(0, colon);  // a folded line starts with a blank: not a token
    const std::string_view value = ws::trim_blanks(field.substr(colon + 1));
    if (!ws::is_token(name) || !ws::is_field_value(value))  // CR and LF are control characters
      return fail(error::bad_request);
    const auto take = [&](std::optional<std::string_view>& slot) {
      if (slot) return false;  // a field the handshake depends on, given twice
      slot = value;
      return true;
    };
    if (ws::ascii_iequal(name, "Host")) {
      if (!take(host)) return fail(error::no_host);
    } else if (ws::ascii_iequal(name, "Upgrade")) {
      if (!take(upgrade)) return fail(error::bad_request);
    } else if (ws::ascii_iequal(name, "Connection")) {
      if (!take(connection)) return fail(error::bad_request);
    } else if (ws::ascii_iequal(name, "Sec-WebSocket-Version")) {
      if (!take(ws_version)) return fail(error::bad_websocket_version);
    } else if (ws::ascii_iequal(name, "Sec-WebSocket-Key")) {
      if (!take(key)) return fail(error::bad_websocket_key);
    } else if (ws::ascii_iequal(name, "Origin")) {
      if (r.has_origin) return fail(error::bad_request);
      r.has_origin = true;
      r.origin = value;
    } else if (ws::ascii_iequal(name, "Sec-WebSocket-Protocol") && r.protocols.empty()) {
      r.protocols = value;
    } else if (ws::ascii_iequal(name, "User-Agent")) {
      r.user_agent = value;
    }
  }
  if (method != "GET") return fail(error::bad_method);
  if (version != "HTTP/1.1") return fail(error::bad_http_version);
  if (!host || host->empty()) return fail(error::no_host);
  if (!upgrade || !ws::list_has_token(*upgrade, "websocket")) return fail(error::not_websocket_upgrade);
  if (!connection || !ws::list_has_token(*connection, "Upgrade")) return fail(error::no_connection_upgrade);
  if (!ws_version || *ws_version != "13") return fail(error::bad_websocket_version);
  if (!key || !ws::is_websocket_key(*key)) return fail(error::bad_websocket_key);
  r.host = *host;
  r.key = *key;
  return r;
}

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC's
// GUID)), with OpenSSL's SHA-1 and EVP_EncodeBlock. 28 characters.
inline std::string accept_key(std::string_view key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input;
  input.reserve(key.size() + guid.size());
  input.append(key).append(guid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr) != 1 || digest_size != 20)
    throw std::runtime_error("howdy::websocket::accept_key: SHA-1 failed");
  unsigned char encoded[4 * ((20 + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, 20);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

// The 101 Switching Protocols response for `request`; `protocol` (one of the
// request's protocols, chosen by the caller) is echoed if not empty.
inline std::string accept_response(const upgrade_request& request, std::string_view protocol = {}) {
  std::string r =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  r += accept_key(request.key);
  r += "\r\n";
  if (!protocol.empty()) r.append("Sec-WebSocket-Protocol: ").append(protocol).append("\r\n");
  r += "\r\n";
  return r;
}

// A complete HTTP/1.1 response refusing an upgrade that failed with `ec`:
// the status of http_status(ec), a plain-text body (ec's message), and
// "Connection: close" (the server closes the connection after it). A 426
// names what to upgrade to; a 405 says GET is allowed.
inline std::string error_response(std::error_code ec) {
  const int status = http_status(ec);
  const char* reason = status == 403   ? "Forbidden"
                       : status == 405 ? "Method Not Allowed"
                       : status == 426 ? "Upgrade Required"
                       : status == 431 ? "Request Header Fields Too Large"
                       : status == 505 ? "HTTP Version Not Supported"
                                       : "Bad Request";
  const std::string body = ec.message() + "\n";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  if (status == 426) r += "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
  if (status == 405) r += "Allow: GET\r\n";
  r += "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
       std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

// ---------------------------------------------------------------------------
// Frames.

// A frame_codec for the framed reader, for the server side of a connection.
// It starts in the handshake phase: the first frame it finds is the upgrade
// request (through "\r\n\r\n", at most max_request_size bytes; its `bytes` go
// to parse_upgrade()). From then on, a frame is one WebSocket frame: `payload`
// is its payload still masked, and the 4-byte masking key is the 4 bytes
// before it (message_assembler unmasks). The header is checked as soon as it
// is buffered: a client frame must be masked, use no reserved bit or unknown
// opcode, give its length in the shortest form (a 64-bit one with the top bit
// clear), and a control frame must be final and at most 125 bytes. A frame
// larger than the reader's max_frame_size is too_large before its payload
// arrives. On malformed or too_large, error() says why (a websocket error).
class codec {
 public:
  enum class phase { handshake, frames };

  codec() noexcept = default;  // not explicit: `{}` works where a codec is expected
  explicit codec(phase start, std::size_t max_request_size = upgrade_limits{}.max_request_size) noexcept
      : phase_(start), max_request_(max_request_size) {}

  phase current_phase() const noexcept { return phase_; }
  // Why the last decode answered malformed or too_large.
  std::error_code error() const noexcept { return error_; }

  decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) noexcept {
    if (phase_ == phase::handshake) return decode_request(buffered, max_frame);
    namespace ws = detail::ws;
    if (buffered.size() < 2) return decode_result::need_more();
    const std::uint8_t b0 = ws::byte_at(buffered, 0);
    const std::uint8_t b1 = ws::byte_at(buffered, 1);
    const auto op = b0 & ws::opcode_bits;
    if (b0 & ws::rsv_bits) return fail(error::reserved_bits);
    if (op > 2 && (op < 8 || op > 10)) return fail(error::bad_opcode);
    if (!(b1 & ws::mask_bit)) return fail(error::unmasked_frame);
    std::uint64_t length = b1 & ws::length_bits;
    if (op >= 8 && (!(b0 & ws::fin_bit) || length > ws::max_control_payload)) return fail(error::bad_control_frame);
    // Known from these two bytes: a header that cannot fit is refused before its length arrives.
    std::size_t header = 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + 4;
    if (header > max_frame) return fail(error::message_too_big, true);
    if (length == 126) {
      if (buffered.size() < 4) return decode_result::need_more();
      length = std::uint64_t{ws::byte_at(buffered, 2)} << 8 | ws::byte_at(buffered, 3);
      if (length < 126) return fail(error::bad_frame_length);
    } else if (length == 127) {
      if (buffered.size() < 10) return decode_result::need_more();
      length = 0;
      for (std::size_t i = 2; i < 10; ++i) length = length << 8 | ws::byte_at(buffered, i);
      if (length >> 63 || length <= 0xFFFF) return fail(error::bad_frame_length);
    }
    if (length > max_frame - header) return fail(error::message_too_big, true);
    const std::size_t size = header + static_cast<std::size_t>(length);
    if (buffered.size() < size) return decode_result::need_more();
    return decode_result::complete(size, header, static_cast<std::size_t>(length));
  }

 private:
  decode_result fail(error::websocket_errors e, bool too_large = false) noexcept {
    error_ = e;
    return too_large ? decode_result::too_large() : decode_result::malformed();
  }

  decode_result decode_request(std::span<const std::byte> buffered, std::size_t max_frame) noexcept {
    const std::size_t limit = std::min(max_request_, max_frame);
    const std::string_view text(reinterpret_cast<const char*>(buffered.data()), std::min(buffered.size(), limit));
    const std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    const std::size_t at = text.find("\r\n\r\n", from);
    if (at != std::string_view::npos) {
      scanned_ = 0;
      phase_ = phase::frames;
      return decode_result::complete(at + 4, 0, at + 4);
    }
    if (buffered.size() >= limit) {
      scanned_ = 0;
      return fail(error::request_too_large, true);
    }
    scanned_ = text.size();
    return decode_result::need_more();
  }

  phase phase_ = phase::handshake;
  std::size_t max_request_ = upgrade_limits{}.max_request_size;
  std::size_t scanned_ = 0;  // handshake: bytes already searched for the blank line
  std::error_code error_;
};
static_assert(frame_codec<codec>);

struct message_options {
  std::size_t max_message_size = 1024 * 1024;  // bytes of one message, all its fragments together
  bool check_utf8 = true;                      // text messages and close reasons must be UTF-8
};

// A message, or a control frame's payload: unmasked. Views valid until the
// next call on whatever produced it.
struct message {
  opcode type = opcode::text;  // text or binary (for control frames: ping, pong, close)
  std::span<const std::byte> payload;
  std::string_view text() const noexcept { return {reinterpret_cast<const char*>(payload.data()), payload.size()}; }
};

// Turns the frames of one connection (from a framed_reader with websocket::codec,
// in the frames phase) into messages: unmasks, joins fragments (at most
// max_message_size bytes), checks the order of continuations and the UTF-8 of
// text, and passes control frames through, even between the fragments of a
// message. It sends nothing: message_reader answers pings and closes.
class message_assembler {
 public:
  enum class result {
    incomplete,  // a fragment: read on
    message,     // a whole text or binary message: current()
    ping,        // current() is its payload: answer with a pong of the same payload
    pong,        // current() is its payload
    close,       // the peer closes: peer_close_code(), peer_close_reason(); answer with a close
  };

  explicit message_assembler(message_options options = {}) : options_(options) {}

  const message_options& options() const noexcept { return options_; }

  // Handles one frame. On error (`ec` set, a websocket error) the connection
  // is to be closed with close_code_for(ec); the assembler is then unusable.
  result on_frame(const frame& f, std::error_code& ec) {
    namespace ws = detail::ws;
    ec = {};
    const std::uint8_t b0 = ws::byte_at(f.bytes, 0);
    const auto op = static_cast<opcode>(b0 & ws::opcode_bits);
    const bool fin = b0 & ws::fin_bit;
    std::array<std::byte, 4> key;
    std::memcpy(key.data(), f.payload.data() - 4, 4);
    if (op == opcode::close || op == opcode::ping || op == opcode::pong) {
      control_size_ = f.payload.size();
      ws::unmask(f.payload, control_.data(), key);
      current_ = message{op, {control_.data(), control_size_}};
      if (op == opcode::ping) return result::ping;
      if (op == opcode::pong) return result::pong;
      return on_close(ec);
    }
    if (op == opcode::continuation ? !in_message_ : in_message_) return fail(ec, error::bad_continuation);
    if (op != opcode::continuation) {
      in_message_ = true;
      type_ = op;
      data_.clear();
    }
    if (f.payload.size() > options_.max_message_size - data_.size()) return fail(ec, error::message_too_big);
    const std::size_t at = data_.size();
    data_.resize(at + f.payload.size());
    ws::unmask(f.payload, data_.data() + at, key);
    if (!fin) return result::incomplete;
    in_message_ = false;
    current_ = message{type_, {data_.data(), data_.size()}};
    if (type_ == opcode::text && options_.check_utf8 && !is_valid_utf8(current_.text())) return fail(ec, error::bad_utf8);
    return result::message;
  }

  // The last message or control payload on_frame() returned.
  const message& current() const noexcept { return current_; }
  // After result::close: the peer's code (close_code::no_status if it gave none) and reason.
  std::uint16_t peer_close_code() const noexcept { return peer_code_; }
  std::string_view peer_close_reason() const noexcept { return peer_reason_; }

 private:
  result fail(std::error_code& ec, error::websocket_errors e) {
    ec = e;
    in_message_ = false;
    data_.clear();
    return result::incomplete;
  }

  result on_close(std::error_code& ec) {
    const auto p = current_.payload;
    peer_reason_ = {};
    if (p.empty()) {
      peer_code_ = static_cast<std::uint16_t>(close_code::no_status);
      return result::close;
    }
    if (p.size() < 2) return fail(ec, error::bad_close_frame);
    peer_code_ = static_cast<std::uint16_t>(detail::ws::byte_at(p, 0) << 8 | detail::ws::byte_at(p, 1));
    if (!is_valid_close_code(peer_code_)) return fail(ec, error::bad_close_frame);
    peer_reason_ = std::string_view(reinterpret_cast<const char*>(p.data()) + 2, p.size() - 2);
    if (options_.check_utf8 && !is_valid_utf8(peer_reason_)) return fail(ec, error::bad_utf8);
    return result::close;
  }

  message_options options_;
  std::vector<std::byte> data_;  // the message being assembled, unmasked
  std::array<std::byte, detail::ws::max_control_payload> control_{};
  std::size_t control_size_ = 0;
  opcode type_ = opcode::text;
  bool in_message_ = false;
  message current_;
  std::uint16_t peer_code_ = 0;
  std::string_view peer_reason_;
};

// ---------------------------------------------------------------------------
// Server frames: unmasked, so the same bytes go to every client.

// Bytes of a final server frame carrying `payload_size` bytes, header included.
constexpr std::size_t frame_size(std::size_t payload_size) noexcept {
  return detail::ws::server_header_size(payload_size) + payload_size;
}

// One final, unmasked frame of `op` whose payload `fill(std::span<std::byte>)`
// writes (payload_size bytes) straight into the shared buffer.
template <class Fill>
shared_buffer make_frame(opcode op, std::size_t payload_size, Fill&& fill) {
  return shared_buffer::make(frame_size(payload_size), [&](std::span<std::byte> out) {
    const std::size_t header = detail::ws::server_header_size(payload_size);
    detail::ws::write_server_header(out, static_cast<std::uint8_t>(detail::ws::fin_bit | static_cast<std::uint8_t>(op)),
                                    payload_size);
    std::forward<Fill>(fill)(out.subspan(header));
  });
}

inline shared_buffer encode_frame(opcode op, std::span<const std::byte> payload) {
  return make_frame(op, payload.size(), [&](std::span<std::byte> out) {
    if (!payload.empty()) std::memcpy(out.data(), payload.data(), payload.size());
  });
}

// A text message (the caller vouches that `text` is UTF-8: check it with is_valid_utf8).
inline shared_buffer encode_text(std::string_view text) {
  return encode_frame(opcode::text, std::as_bytes(std::span(text.data(), text.size())));
}
inline shared_buffer encode_binary(std::span<const std::byte> data) { return encode_frame(opcode::binary, data); }

// Control frames: at most 125 bytes of payload (a longer ping payload or close
// reason is cut to fit; a reason is cut at a UTF-8 character boundary).
inline shared_buffer encode_ping(std::span<const std::byte> payload = {}) {
  return encode_frame(opcode::ping, payload.first(std::min(payload.size(), detail::ws::max_control_payload)));
}
inline shared_buffer encode_pong(std::span<const std::byte> payload = {}) {
  return encode_frame(opcode::pong, payload.first(std::min(payload.size(), detail::ws::max_control_payload)));
}
// A close frame with `code` and `reason`; close_code::no_status gives an empty payload.
inline shared_buffer encode_close(std::uint16_t code, std::string_view reason = {}) {
  if (code == static_cast<std::uint16_t>(close_code::no_status)) return encode_frame(opcode::close, {});
  std::size_t n = std::min(reason.size(), detail::ws::max_control_payload - 2);
  while (n > 0 && n < reason.size() && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  return make_frame(opcode::close, 2 + n, [&](std::span<std::byte> out) {
    out[0] = std::byte(static_cast<std::uint8_t>(code >> 8));
    out[1] = std::byte(static_cast<std::uint8_t>(code));
    if (n) std::memcpy(out.data() + 2, reason.data(), n);
  });
}
inline shared_buffer encode_close(close_code code, std::string_view reason = {}) {
  return encode_close(static_cast<std::uint16_t>(code), reason);
}

// ---------------------------------------------------------------------------
// A connection, from the upgrade request to the close handshake.

// The largest frame header a client sends: 2 bytes, a 64-bit length, a masking key.
inline constexpr std::size_t max_client_header_size = 14;

struct options {
  upgrade_limits upgrade;
  message_options messages;
  // max_frame_size: one frame on the wire, header included (message_too_big
  // beyond). 0, the default, follows the message limit: max_message_size +
  // max_client_header_size, so that a message sent as one frame, as browsers
  // do, may be as large as a fragmented one.
  reader_options reader{.max_frame_size = 0};

  // The frame limit the reader applies (max_frame_size, or what 0 stands for).
  std::size_t effective_max_frame_size() const noexcept {
    if (reader.max_frame_size != 0) return reader.max_frame_size;
    const std::size_t m = messages.max_message_size;
    return m > std::numeric_limits<std::size_t>::max() - max_client_header_size ? m : m + max_client_header_size;
  }
  reader_options effective_reader() const noexcept {
    reader_options r = reader;
    r.max_frame_size = effective_max_frame_size();
    return r;
  }
};

// Reads one WebSocket connection and answers what the protocol answers by
// itself, through the connection's outbox: the HTTP error response to a bad
// upgrade request, the pong to a ping, the close frame that ends the close
// handshake or reports a protocol error (1002, 1007, 1009). The application
// sends its own messages through the same outbox (encode_text(), ...), and
// stops reading at the first error; run_duplex() then flushes the outbox
// (the close frame last) and the connection is closed. Queuing a close frame
// closes the outbox (5 s grace): nothing pushed after it is sent.
template <class AsyncReadStream, class Executor = asio::any_io_executor>
class message_reader {
 public:
  message_reader(AsyncReadStream& stream, basic_outbox<Executor>& box, websocket::options options = {})
      : options_(options),
        reader_(stream, codec(codec::phase::handshake, options.upgrade.max_request_size), options.effective_reader()),
        assembler_(options.messages),
        box_(box) {}

  framed_reader<AsyncReadStream, codec>& reader() noexcept { return reader_; }
  basic_outbox<Executor>& outbox() noexcept { return box_; }

  // Reads and parses the upgrade request. A refused request is answered with
  // error_response(ec) before this returns ec (not so when the stream ended:
  // error::end_of_stream, truncated_frame, or the stream's error). The
  // request's views are valid until the next call on this reader.
  asio::awaitable<std::tuple<std::error_code, upgrade_request>> read_upgrade() {
    auto [ec, f] = co_await reader_.next();
    if (ec) {
      if (reader_.codec().error()) {
        ec = reader_.codec().error();
        reject(ec);
      }
      co_return std::tuple{ec, upgrade_request{}};
    }
    const std::string_view text(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
    auto request = parse_upgrade(text, ec, options_.upgrade);
    if (!request) {
      reject(ec);
      co_return std::tuple{ec, upgrade_request{}};
    }
    co_return std::tuple{ec, *request};
  }

  // Completes the handshake: queues the 101 response (echoing `protocol` if not empty).
  void accept(const upgrade_request& request, std::string_view protocol = {}) {
    box_.push(shared_buffer::copy_of(accept_response(request, protocol)));
  }

  // Refuses the upgrade: queues error_response(why) (e.g. error::forbidden_origin: 403).
  void reject(std::error_code why) { box_.push(shared_buffer::copy_of(error_response(why))); }

  // The next text or binary message, after accept(). Pings are answered with
  // pongs, pongs skipped. Errors: error::closed once the peer's close was
  // answered; a protocol error (its close frame queued: 1002, 1007 or 1009);
  // error::end_of_stream / truncated_frame / the stream's error if the peer
  // went without a close. After an error, every call returns the same one.
  asio::awaitable<std::tuple<std::error_code, message>> next() {
    if (failed_) co_return std::tuple{failed_, message{}};
    for (;;) {
      auto [ec, f] = co_await reader_.next();
      if (ec) {
        if (reader_.codec().error()) ec = reader_.codec().error();
        co_return std::tuple{fail(ec), message{}};
      }
      const auto r = assembler_.on_frame(f, ec);
      if (ec) co_return std::tuple{fail(ec), message{}};
      switch (r) {
        case message_assembler::result::message:
          co_return std::tuple{std::error_code{}, assembler_.current()};
        case message_assembler::result::ping:
          box_.push(encode_pong(assembler_.current().payload));
          break;
        case message_assembler::result::close:
          co_return std::tuple{fail(error::closed), message{}};
        case message_assembler::result::pong:
        case message_assembler::result::incomplete:
          break;
      }
    }
  }

  // Starts the close handshake from this side: queues a close frame and closes
  // the outbox (nothing more is sent, not even pongs). Read on (next()) until
  // error::closed to see the peer's answer, or stop reading.
  void close(close_code code = close_code::normal, std::string_view reason = {}) {
    if (close_sent_) return;
    close_sent_ = true;
    push_close(encode_close(code, reason));
  }

  const message_assembler& assembler() const noexcept { return assembler_; }
  // The peer's close code after error::closed (close_code::no_status if it gave none).
  std::uint16_t peer_close_code() const noexcept { return assembler_.peer_close_code(); }

 private:
  std::error_code fail(std::error_code ec) {
    failed_ = ec;
    if (!close_sent_ && ec.category() == error::get_websocket_category()) {
      close_sent_ = true;
      // The close handshake: echo the peer's code; a protocol error: its code.
      push_close(ec == error::closed ? encode_close(assembler_.peer_close_code()) : encode_close(close_code_for(ec)));
    }
    return ec;
  }

  // Nothing may follow a close frame (RFC 6455 5.5.1): the outbox is closed
  // behind it, so what is queued (the close frame last) is still written, and
  // whatever is pushed afterwards (a hub's broadcast, ...) is refused.
  void push_close(shared_buffer frame) {
    box_.push(std::move(frame));
    box_.close();
  }

  websocket::options options_;
  framed_reader<AsyncReadStream, codec> reader_;
  message_assembler assembler_;
  basic_outbox<Executor>& box_;
  bool close_sent_ = false;
  std::error_code failed_;
};

}  // namespace websocket
}  // namespace howdy
