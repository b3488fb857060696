//
// samples/hcp/protocol.hpp
//
// Message-level encoders and decoders for the Howdy Chat Protocol:
// HCP/1 (the original binary protocol) and HCP/2 (its framed successor).
// docs/protocol.md is the specification; this header only turns messages
// into bytes and back. Finding where a message ends in a byte stream is the
// job of the stream codec, not of this file.
//
// Encoders come in three forms per message:
//   X_size(...)            exact encoded size,
//   write_X(out, ...)      writes exactly X_size(...) bytes into `out` and
//                          returns that count; never allocates, so a server
//                          can encode a broadcast once into its own buffer,
//   encode_X(...)          the same as a std::string, for clients and tests.
// write_X throws std::length_error when `out` is too small or a field does not
// fit its encoding (a name over 64 bytes, ...): these are caller bugs, and a
// silent truncation would put a different message on the wire.
//
// Decoders take one whole message, never read outside the given span, and
// return string_views into it.
//

#ifndef HOWDY_SAMPLES_HCP_PROTOCOL_HPP
#define HOWDY_SAMPLES_HCP_PROTOCOL_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>
#include <vector>

namespace hcp {

inline constexpr std::uint16_t default_port = 20002;

// Both protocols cap a name at 64 bytes of UTF-8 (HCP/1: the fixed field).
inline constexpr std::size_t name_field_size = 64;

// 'All' addresses everyone, 'Server' is the proposal destination in the
// original client; neither may be taken by a user. Compared exactly, like the
// original.
inline constexpr std::array<std::string_view, 2> reserved_names{"All", "Server"};

constexpr bool is_reserved_name(std::string_view name) noexcept {
  for (auto r : reserved_names)
    if (name == r) return true;
  return false;
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
constexpr bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    auto const c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07u;
    } else
      return false;  // continuation byte, C0/C1 overlong lead, F5..FF
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto const b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

// A user name as both protocols accept it: 1..64 bytes of valid UTF-8, no
// NUL (it is the HCP/1 padding) and no 0x01..0x05 (HCP/1 packet starts; the
// HCP/1 stream codec relies on them never appearing inside a packet).
// Reserved names are valid here; they are refused separately.
constexpr bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > name_field_size) return false;
  for (char ch : name)
    if (static_cast<unsigned char>(ch) <= 0x05) return false;
  return is_valid_utf8(name);
}

// Protocol detection on the shared port from a connection's first byte.
enum class protocol { hcp1, hcp2, text, unknown };

constexpr protocol detect_protocol(std::byte first) noexcept {
  auto const b = std::to_integer<unsigned>(first);
  if (b == 0x00) return protocol::hcp2;               // high byte of a u32 length < 16 MiB
  if (b >= 0x01 && b <= 0x05) return protocol::hcp1;  // HCP/1 type byte
  if (b == 'R') return protocol::text;                // seed-002 text protocol: "REGISTER"
  return protocol::unknown;
}

namespace detail {

inline std::string_view as_chars(std::span<const std::byte> b) noexcept {
  return {reinterpret_cast<char const*>(b.data()), b.size()};
}

[[noreturn]] inline void throw_length(char const* what) { throw std::length_error(what); }

inline void check_name(std::string_view name) {
  if (name.size() > name_field_size) throw_length("hcp: name longer than 64 bytes");
}

// Sequential big-endian writer. Callers check the total size first, so the
// individual puts need no bounds checks.
struct writer {
  std::byte* p;

  void u8(std::uint8_t v) noexcept { *p++ = std::byte{v}; }
  template <class T>
  void be(T v) noexcept {
    for (int shift = 8 * (int(sizeof(T)) - 1); shift >= 0; shift -= 8)
      *p++ = std::byte(static_cast<std::uint8_t>(v >> shift));
  }
  void u16(std::uint16_t v) noexcept { be(v); }
  void u32(std::uint32_t v) noexcept { be(v); }
  void u64(std::uint64_t v) noexcept { be(v); }
  void bytes(std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void zeros(std::size_t n) noexcept {
    if (n != 0) std::memset(p, 0, n);
    p += n;
  }
  // HCP/1 name field: exactly 64 bytes, NUL-padded by bytes.
  void padded(std::string_view name) noexcept {
    bytes(name);
    zeros(name_field_size - name.size());
  }
  // HCP/2 name: u8 length + bytes.
  void name(std::string_view s) noexcept {
    u8(static_cast<std::uint8_t>(s.size()));
    bytes(s);
  }
};

// Sequential big-endian reader. A short read sets `ok` to false and yields
// zero/empty from then on, so decoders check once at the end.
struct reader {
  std::byte const* p;
  std::byte const* end;
  bool ok = true;

  explicit reader(std::span<const std::byte> b) noexcept : p(b.data()), end(b.data() + b.size()) {}

  std::size_t left() const noexcept { return ok ? std::size_t(end - p) : 0; }

  bool need(std::size_t n) noexcept {
    if (left() < n) ok = false;
    return ok;
  }
  template <class T>
  T be() noexcept {
    if (!need(sizeof(T))) return 0;
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = T((v << 8) | std::to_integer<T>(*p++));
    return v;
  }
  std::uint8_t u8() noexcept { return be<std::uint8_t>(); }
  std::uint16_t u16() noexcept { return be<std::uint16_t>(); }
  std::uint32_t u32() noexcept { return be<std::uint32_t>(); }
  std::uint64_t u64() noexcept { return be<std::uint64_t>(); }
  std::string_view bytes(std::size_t n) noexcept {
    if (!need(n)) return {};
    std::string_view s{reinterpret_cast<char const*>(p), n};
    p += n;
    return s;
  }
  std::string_view rest() noexcept { return bytes(left()); }
  bool done() const noexcept { return ok && p == end; }
};

template <class R>
concept name_range =
    std::ranges::forward_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, std::string_view>;

template <class F>
std::string to_string(std::size_t size, F&& write) {
  std::string s(size, '\0');
  write(std::span<std::byte>(reinterpret_cast<std::byte*>(s.data()), s.size()));
  return s;
}

}  // namespace detail

// ===========================================================================
// HCP/1: type byte, then fixed 64-byte NUL-padded names, type 5 then text.
// There are no lengths on the wire; see docs/protocol.md for how a stream is
// split into packets.
// ===========================================================================
namespace hcp1 {

enum class type : std::uint8_t {
  proposal = 0x01,  // client -> server: name
  ack = 0x02,       // server -> client: accepted name
  nak = 0x03,       // server -> client: refused name
  update = 0x04,    // server -> client: one name block per online user
  message = 0x05,   // both ways: sender, receiver, text
};

// The bytes that start a packet; they never occur inside names or text.
constexpr bool is_type_byte(std::byte b) noexcept {
  auto const v = std::to_integer<unsigned>(b);
  return v >= 0x01 && v <= 0x05;
}

// What write_message puts in place of a 0x01..0x05 byte in chat text, so the
// receiver does not take it for the start of the next packet. SUB is the
// ASCII "substitute" control and keeps the size unchanged.
inline constexpr char text_substitute = '\x1A';

inline constexpr std::size_t name_packet_size = 1 + name_field_size;         // types 1-3
inline constexpr std::size_t message_header_size = 1 + 2 * name_field_size;  // type 5 before text

constexpr std::size_t proposal_size() noexcept { return name_packet_size; }
constexpr std::size_t ack_size() noexcept { return name_packet_size; }
constexpr std::size_t nak_size() noexcept { return name_packet_size; }
constexpr std::size_t update_size(std::size_t count) noexcept { return 1 + count * name_field_size; }
template <hcp::detail::name_range R>
std::size_t update_size(R const& names) {
  return update_size(static_cast<std::size_t>(std::ranges::distance(names)));
}
constexpr std::size_t message_size(std::string_view text) noexcept { return message_header_size + text.size(); }

namespace detail {

inline hcp::detail::writer begin(std::span<std::byte> out, std::size_t size, type t) {
  if (out.size() < size) hcp::detail::throw_length("hcp1: output buffer too small");
  hcp::detail::writer w{out.data()};
  w.u8(static_cast<std::uint8_t>(t));
  return w;
}

inline std::size_t write_name_packet(std::span<std::byte> out, type t, std::string_view name) {
  hcp::detail::check_name(name);
  auto w = begin(out, name_packet_size, t);
  w.padded(name);
  return name_packet_size;
}

}  // namespace detail

inline std::size_t write_proposal(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_packet(out, type::proposal, name);
}
inline std::size_t write_ack(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_packet(out, type::ack, name);
}
inline std::size_t write_nak(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_packet(out, type::nak, name);
}

template <hcp::detail::name_range R>
std::size_t write_update(std::span<std::byte> out, R const& names) {
  for (std::string_view n : names) hcp::detail::check_name(n);
  auto const size = update_size(names);
  auto w = detail::begin(out, size, type::update);
  for (std::string_view n : names) w.padded(n);
  return size;
}
inline std::size_t write_update(std::span<std::byte> out, std::initializer_list<std::string_view> names) {
  return write_update<std::initializer_list<std::string_view>>(out, names);
}

// Text must be non-empty: a type 5 with no text cannot be told apart from one
// whose text has not arrived yet.
inline std::size_t write_message(std::span<std::byte> out, std::string_view sender, std::string_view receiver,
                                 std::string_view text) {
  hcp::detail::check_name(sender);
  hcp::detail::check_name(receiver);
  if (text.empty()) hcp::detail::throw_length("hcp1: message text must not be empty");
  auto const size = message_size(text);
  auto w = detail::begin(out, size, type::message);
  w.padded(sender);
  w.padded(receiver);
  for (char ch : text)
    w.u8(is_type_byte(std::byte(static_cast<unsigned char>(ch))) ? std::uint8_t(text_substitute)
                                                                 : static_cast<std::uint8_t>(ch));
  return size;
}

inline std::string encode_proposal(std::string_view name) {
  return hcp::detail::to_string(proposal_size(), [&](auto out) { write_proposal(out, name); });
}
inline std::string encode_ack(std::string_view name) {
  return hcp::detail::to_string(ack_size(), [&](auto out) { write_ack(out, name); });
}
inline std::string encode_nak(std::string_view name) {
  return hcp::detail::to_string(nak_size(), [&](auto out) { write_nak(out, name); });
}
template <hcp::detail::name_range R>
std::string encode_update(R const& names) {
  return hcp::detail::to_string(update_size(names), [&](auto out) { write_update(out, names); });
}
inline std::string encode_update(std::initializer_list<std::string_view> names) {
  return encode_update<std::initializer_list<std::string_view>>(names);
}
inline std::string encode_message(std::string_view sender, std::string_view receiver, std::string_view text) {
  return hcp::detail::to_string(message_size(text), [&](auto out) { write_message(out, sender, receiver, text); });
}

// ---- decoding -------------------------------------------------------------

// A name from a 64-byte field with its trailing NUL padding removed. The
// padding is stripped whatever the content, so an invalid name is still
// reported (a nak echoes it back).
inline std::string_view strip_padding(std::string_view field) noexcept {
  auto const end = field.find_last_not_of('\0');
  return end == std::string_view::npos ? std::string_view{} : field.substr(0, end + 1);
}

struct name_field {
  std::string_view name;  // padding removed
  bool valid;             // is_valid_name(name)
};

inline name_field read_name_field(std::string_view field64) noexcept {
  auto const name = strip_padding(field64);
  return {name, is_valid_name(name)};
}

// Types 1-3: exactly 65 bytes.
struct name_packet {
  type kind;
  name_field name;
};

inline std::optional<name_packet> parse_name_packet(std::span<const std::byte> packet) noexcept {
  if (packet.size() != name_packet_size) return std::nullopt;
  auto const t = std::to_integer<unsigned>(packet[0]);
  if (t < 0x01 || t > 0x03) return std::nullopt;
  return name_packet{type(t), read_name_field(hcp::detail::as_chars(packet.subspan(1)))};
}

// Type 4: 1 + 64*n bytes; names with padding removed.
inline std::optional<std::vector<std::string_view>> parse_update(std::span<const std::byte> packet) {
  if (packet.empty() || packet[0] != std::byte(type::update) || (packet.size() - 1) % name_field_size != 0)
    return std::nullopt;
  auto const body = hcp::detail::as_chars(packet.subspan(1));
  std::vector<std::string_view> names;
  names.reserve(body.size() / name_field_size);
  for (std::size_t i = 0; i < body.size(); i += name_field_size)
    names.push_back(strip_padding(body.substr(i, name_field_size)));
  return names;
}

// Type 5: 129 header bytes and at least one byte of text.
struct message {
  std::string_view sender;    // padding removed; compare with the connection's name
  std::string_view receiver;  // padding removed; "All" or a user
  std::string_view text;      // as received
};

inline std::optional<message> parse_message(std::span<const std::byte> packet) noexcept {
  if (packet.size() <= message_header_size || packet[0] != std::byte(type::message)) return std::nullopt;
  auto const s = hcp::detail::as_chars(packet);
  return message{strip_padding(s.substr(1, name_field_size)),
                 strip_padding(s.substr(1 + name_field_size, name_field_size)), s.substr(message_header_size)};
}

}  // namespace hcp1

// ===========================================================================
// HCP/2: u32 length (big-endian, counts type + payload) | u8 type | payload.
// ===========================================================================
namespace hcp2 {

inline constexpr std::uint8_t version = 2;
inline constexpr std::string_view magic = "HCP";
inline constexpr std::size_t header_size = 5;              // u32 length + u8 type
inline constexpr std::uint32_t default_max_frame = 65536;  // limit on the length field

enum class frame_type : std::uint8_t {
  // client -> server (0x01..0x7F)
  hello = 0x01,
  name = 0x02,
  send = 0x03,
  ping = 0x04,
  who = 0x05,
  bye = 0x06,
  // server -> client (0x80..0xFF)
  welcome = 0x81,
  name_ok = 0x82,
  name_refused = 0x83,
  users = 0x84,
  joined = 0x85,
  left = 0x86,
  message = 0x87,
  sent = 0x88,
  dropped = 0x8A,
  pong = 0x8B,
  error = 0x8F,
};

constexpr bool is_client_frame_type(std::uint8_t t) noexcept { return t >= 0x01 && t <= 0x7F; }
constexpr bool is_server_frame_type(std::uint8_t t) noexcept { return t >= 0x80; }

enum class target_kind : std::uint8_t { all = 0, user = 1, room = 2 /* reserved */ };

// Wire error codes (u16) of ERROR and NAME_REFUSED.
enum class errc : std::uint16_t {
  malformed_username = 100,
  not_registered = 101,
  unknown_recipient = 102,
  malformed_frame = 103,
  name_taken = 104,
  name_reserved = 105,
  unsupported_version = 106,
  frame_too_large = 107,
  unknown_frame_type = 108,
  slow_consumer = 109,
  shutting_down = 110,
  handshake_timeout = 111,
  idle_timeout = 112,
  already_named = 113,
};

constexpr std::string_view describe(errc e) noexcept {
  switch (e) {
    case errc::malformed_username:
      return "malformed username";
    case errc::not_registered:
      return "no user registered (send NAME first)";
    case errc::unknown_recipient:
      return "unable to send: unknown recipient";
    case errc::malformed_frame:
      return "header incomplete or malformed frame";
    case errc::name_taken:
      return "name taken";
    case errc::name_reserved:
      return "name reserved";
    case errc::unsupported_version:
      return "unsupported version or HELLO expected";
    case errc::frame_too_large:
      return "frame too large";
    case errc::unknown_frame_type:
      return "unknown frame type";
    case errc::slow_consumer:
      return "slow consumer";
    case errc::shutting_down:
      return "server shutting down";
    case errc::handshake_timeout:
      return "handshake timeout";
    case errc::idle_timeout:
      return "idle timeout";
    case errc::already_named:
      return "already named";
  }
  return "unknown error";
}

// So codes can travel as std::error_code alongside Asio's.
inline std::error_category const& error_category() noexcept {
  struct category final : std::error_category {
    char const* name() const noexcept override { return "hcp2"; }
    std::string message(int ev) const override { return std::string(describe(static_cast<errc>(ev))); }
  };
  static category const c;
  return c;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// ---- encoding -------------------------------------------------------------

namespace detail {

using hcp::detail::writer;

// Checks the buffer, writes the header and returns a writer at the payload.
inline writer begin(std::span<std::byte> out, std::size_t size, frame_type t) {
  if (size - 4 > 0xFFFFFFFFu) hcp::detail::throw_length("hcp2: frame longer than a u32 length");
  if (out.size() < size) hcp::detail::throw_length("hcp2: output buffer too small");
  writer w{out.data()};
  w.u32(static_cast<std::uint32_t>(size - 4));
  w.u8(static_cast<std::uint8_t>(t));
  return w;
}

constexpr std::size_t name_len(std::string_view n) noexcept { return 1 + n.size(); }

inline std::size_t write_name_only(std::span<std::byte> out, frame_type t, std::string_view name) {
  hcp::detail::check_name(name);
  auto const size = header_size + name_len(name);
  begin(out, size, t).name(name);
  return size;
}

template <class Int>
std::size_t write_int_only(std::span<std::byte> out, frame_type t, Int v) {
  auto const size = header_size + sizeof(Int);
  begin(out, size, t).be(v);
  return size;
}

}  // namespace detail

// Sizes (whole frame, header included).
constexpr std::size_t hello_size() noexcept { return header_size + 3 + 1 + 4; }
constexpr std::size_t name_size(std::string_view name) noexcept { return header_size + 1 + name.size(); }
constexpr std::size_t send_size(std::string_view target, std::string_view text) noexcept {
  return header_size + 4 + 1 + 1 + target.size() + text.size();
}
constexpr std::size_t ping_size() noexcept { return header_size + 8; }
constexpr std::size_t who_size() noexcept { return header_size; }
constexpr std::size_t bye_size() noexcept { return header_size; }
constexpr std::size_t welcome_size(std::string_view server_info) noexcept {
  return header_size + 1 + 4 + server_info.size();
}
constexpr std::size_t name_ok_size(std::string_view name) noexcept { return name_size(name); }
constexpr std::size_t name_refused_size(std::string_view name, std::string_view reason) noexcept {
  return header_size + 2 + 1 + name.size() + reason.size();
}
template <hcp::detail::name_range R>
std::size_t users_size(R const& names) {
  std::size_t n = header_size + 2;
  for (std::string_view s : names) n += 1 + s.size();
  return n;
}
inline std::size_t users_size(std::initializer_list<std::string_view> names) {
  return users_size<std::initializer_list<std::string_view>>(names);
}
constexpr std::size_t joined_size(std::string_view name) noexcept { return name_size(name); }
constexpr std::size_t left_size(std::string_view name) noexcept { return name_size(name); }
constexpr std::size_t message_size(std::string_view sender, std::string_view target, std::string_view text) noexcept {
  return header_size + 8 + 8 + 1 + 1 + sender.size() + 1 + target.size() + text.size();
}
constexpr std::size_t sent_size() noexcept { return header_size + 4 + 8; }
constexpr std::size_t dropped_size() noexcept { return header_size + 4; }
constexpr std::size_t pong_size() noexcept { return header_size + 8; }
constexpr std::size_t error_size(std::string_view text) noexcept { return header_size + 2 + 4 + text.size(); }

// Writers (whole frame into `out`, returns the bytes written).
inline std::size_t write_hello(std::span<std::byte> out, std::uint8_t ver = version, std::uint32_t flags = 0) {
  auto w = detail::begin(out, hello_size(), frame_type::hello);
  w.bytes(magic);
  w.u8(ver);
  w.u32(flags);
  return hello_size();
}
inline std::size_t write_name(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::name, name);
}
inline std::size_t write_send(std::span<std::byte> out, std::uint32_t client_ref, target_kind kind,
                              std::string_view target, std::string_view text) {
  hcp::detail::check_name(target);
  auto const size = send_size(target, text);
  auto w = detail::begin(out, size, frame_type::send);
  w.u32(client_ref);
  w.u8(static_cast<std::uint8_t>(kind));
  w.name(target);
  w.bytes(text);
  return size;
}
inline std::size_t write_ping(std::span<std::byte> out, std::uint64_t token) {
  return detail::write_int_only(out, frame_type::ping, token);
}
inline std::size_t write_who(std::span<std::byte> out) {
  detail::begin(out, who_size(), frame_type::who);
  return who_size();
}
inline std::size_t write_bye(std::span<std::byte> out) {
  detail::begin(out, bye_size(), frame_type::bye);
  return bye_size();
}
inline std::size_t write_welcome(std::span<std::byte> out, std::uint32_t max_frame, std::string_view server_info,
                                 std::uint8_t ver = version) {
  auto const size = welcome_size(server_info);
  auto w = detail::begin(out, size, frame_type::welcome);
  w.u8(ver);
  w.u32(max_frame);
  w.bytes(server_info);
  return size;
}
inline std::size_t write_name_ok(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::name_ok, name);
}
inline std::size_t write_name_refused(std::span<std::byte> out, errc code, std::string_view name,
                                      std::string_view reason) {
  hcp::detail::check_name(name);
  auto const size = name_refused_size(name, reason);
  auto w = detail::begin(out, size, frame_type::name_refused);
  w.u16(static_cast<std::uint16_t>(code));
  w.name(name);
  w.bytes(reason);
  return size;
}
template <hcp::detail::name_range R>
std::size_t write_users(std::span<std::byte> out, R const& names) {
  std::size_t count = 0;
  for (std::string_view n : names) {
    hcp::detail::check_name(n);
    ++count;
  }
  if (count > 0xFFFF) hcp::detail::throw_length("hcp2: more than 65535 users");
  auto const size = users_size(names);
  auto w = detail::begin(out, size, frame_type::users);
  w.u16(static_cast<std::uint16_t>(count));
  for (std::string_view n : names) w.name(n);
  return size;
}
inline std::size_t write_users(std::span<std::byte> out, std::initializer_list<std::string_view> names) {
  return write_users<std::initializer_list<std::string_view>>(out, names);
}
inline std::size_t write_joined(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::joined, name);
}
inline std::size_t write_left(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::left, name);
}
inline std::size_t write_message(std::span<std::byte> out, std::uint64_t id, std::uint64_t timestamp_us,
                                 target_kind kind, std::string_view sender, std::string_view target,
                                 std::string_view text) {
  hcp::detail::check_name(sender);
  hcp::detail::check_name(target);
  auto const size = message_size(sender, target, text);
  auto w = detail::begin(out, size, frame_type::message);
  w.u64(id);
  w.u64(timestamp_us);
  w.u8(static_cast<std::uint8_t>(kind));
  w.name(sender);
  w.name(target);
  w.bytes(text);
  return size;
}
inline std::size_t write_sent(std::span<std::byte> out, std::uint32_t client_ref, std::uint64_t id) {
  auto w = detail::begin(out, sent_size(), frame_type::sent);
  w.u32(client_ref);
  w.u64(id);
  return sent_size();
}
inline std::size_t write_dropped(std::span<std::byte> out, std::uint32_t count) {
  return detail::write_int_only(out, frame_type::dropped, count);
}
inline std::size_t write_pong(std::span<std::byte> out, std::uint64_t token) {
  return detail::write_int_only(out, frame_type::pong, token);
}
inline std::size_t write_error(std::span<std::byte> out, errc code, std::uint32_t client_ref, std::string_view text) {
  auto const size = error_size(text);
  auto w = detail::begin(out, size, frame_type::error);
  w.u16(static_cast<std::uint16_t>(code));
  w.u32(client_ref);
  w.bytes(text);
  return size;
}

// std::string versions.
inline std::string encode_hello(std::uint8_t ver = version, std::uint32_t flags = 0) {
  return hcp::detail::to_string(hello_size(), [&](auto o) { write_hello(o, ver, flags); });
}
inline std::string encode_name(std::string_view name) {
  return hcp::detail::to_string(name_size(name), [&](auto o) { write_name(o, name); });
}
inline std::string encode_send(std::uint32_t client_ref, target_kind kind, std::string_view target,
                               std::string_view text) {
  return hcp::detail::to_string(send_size(target, text),
                                [&](auto o) { write_send(o, client_ref, kind, target, text); });
}
inline std::string encode_ping(std::uint64_t token) {
  return hcp::detail::to_string(ping_size(), [&](auto o) { write_ping(o, token); });
}
inline std::string encode_who() {
  return hcp::detail::to_string(who_size(), [](auto o) { write_who(o); });
}
inline std::string encode_bye() {
  return hcp::detail::to_string(bye_size(), [](auto o) { write_bye(o); });
}
inline std::string encode_welcome(std::uint32_t max_frame, std::string_view server_info, std::uint8_t ver = version) {
  return hcp::detail::to_string(welcome_size(server_info),
                                [&](auto o) { write_welcome(o, max_frame, server_info, ver); });
}
inline std::string encode_name_ok(std::string_view name) {
  return hcp::detail::to_string(name_ok_size(name), [&](auto o) { write_name_ok(o, name); });
}
inline std::string encode_name_refused(errc code, std::string_view name, std::string_view reason) {
  return hcp::detail::to_string(name_refused_size(name, reason),
                                [&](auto o) { write_name_refused(o, code, name, reason); });
}
template <hcp::detail::name_range R>
std::string encode_users(R const& names) {
  return hcp::detail::to_string(users_size(names), [&](auto o) { write_users(o, names); });
}
inline std::string encode_users(std::initializer_list<std::string_view> names) {
  return encode_users<std::initializer_list<std::string_view>>(names);
}
inline std::string encode_joined(std::string_view name) {
  return hcp::detail::to_string(joined_size(name), [&](auto o) { write_joined(o, name); });
}
inline std::string encode_left(std::string_view name) {
  return hcp::detail::to_string(left_size(name), [&](auto o) { write_left(o, name); });
}
inline std::string encode_message(std::uint64_t id, std::uint64_t timestamp_us, target_kind kind,
                                  std::string_view sender, std::string_view target, std::string_view text) {
  return hcp::detail::to_string(message_size(sender, target, text),
                                [&](auto o) { write_message(o, id, timestamp_us, kind, sender, target, text); });
}
inline std::string encode_sent(std::uint32_t client_ref, std::uint64_t id) {
  return hcp::detail::to_string(sent_size(), [&](auto o) { write_sent(o, client_ref, id); });
}
inline std::string encode_dropped(std::uint32_t count) {
  return hcp::detail::to_string(dropped_size(), [&](auto o) { write_dropped(o, count); });
}
inline std::string encode_pong(std::uint64_t token) {
  return hcp::detail::to_string(pong_size(), [&](auto o) { write_pong(o, token); });
}
inline std::string encode_error(errc code, std::uint32_t client_ref, std::string_view text) {
  return hcp::detail::to_string(error_size(text), [&](auto o) { write_error(o, code, client_ref, text); });
}

// ---- decoding -------------------------------------------------------------
// Structural only: lengths, magic, name <= 64 bytes, no trailing bytes.
// Whether a name is acceptable, the version supported, the text valid UTF-8
// or a frame allowed in the current state is the server's decision.

struct hello {
  std::uint8_t version;
  std::uint32_t flags;
};

// HELLO flag bits. A server ignores bits it does not know.
inline constexpr std::uint32_t hello_no_presence = 0x1;  // no JOINED/LEFT: for bots and load generators
struct name {
  std::string_view value;
};
struct send {
  std::uint32_t client_ref;
  target_kind kind;
  std::string_view target;
  std::string_view text;
};
struct ping {
  std::uint64_t token;
};
struct who {};
struct bye {};
struct welcome {
  std::uint8_t version;
  std::uint32_t max_frame;
  std::string_view server_info;
};
struct name_ok {
  std::string_view value;
};
struct name_refused {
  std::uint16_t code;
  std::string_view value;
  std::string_view reason;
};
struct users {
  std::vector<std::string_view> names;
};
struct joined {
  std::string_view value;
};
struct left {
  std::string_view value;
};
struct message {
  std::uint64_t id;
  std::uint64_t timestamp_us;
  target_kind kind;
  std::string_view sender;
  std::string_view target;
  std::string_view text;
};
struct sent {
  std::uint32_t client_ref;
  std::uint64_t id;
};
struct dropped {
  std::uint32_t count;
};
struct pong {
  std::uint64_t token;
};
struct error {
  std::uint16_t code;
  std::uint32_t client_ref;
  std::string_view text;
};

// Why a frame could not be decoded: errc::malformed_frame (reply ERROR 103 and
// close) or errc::unknown_frame_type (reply ERROR 108 and skip the frame).
struct parse_error {
  errc code;
  std::uint8_t type;  // 0 when the header itself is bad
};

using frame = std::variant<parse_error, hello, name, send, ping, who, bye, welcome, name_ok, name_refused, users,
                           joined, left, message, sent, dropped, pong, error>;

namespace detail {

// HCP/2 name: u8 length (<= 64) + bytes.
inline std::string_view read_name(hcp::detail::reader& r) noexcept {
  auto const n = r.u8();
  if (n > hcp::name_field_size) {
    r.ok = false;
    return {};
  }
  return r.bytes(n);
}

}  // namespace detail

// `whole_frame` is one complete frame, length field included.
inline frame parse(std::span<const std::byte> whole_frame) {
  using hcp::detail::reader;
  auto const bad = [](std::uint8_t t) -> frame { return parse_error{errc::malformed_frame, t}; };

  reader h(whole_frame);
  auto const length = h.u32();
  if (!h.ok || length == 0 || length != h.left()) return bad(0);
  auto const t = h.u8();
  reader r(whole_frame.subspan(header_size));

  // Every byte must be used: trailing bytes are malformed (text fields take the rest).
  auto const finish = [&](auto v) -> frame {
    if (r.done()) return v;
    return bad(t);
  };

  switch (static_cast<frame_type>(t)) {
    case frame_type::hello: {
      if (r.bytes(magic.size()) != magic) return bad(t);
      hello v{};
      v.version = r.u8();
      v.flags = r.u32();
      return finish(v);
    }
    case frame_type::name:
      return finish(name{detail::read_name(r)});
    case frame_type::send: {
      send v{};
      v.client_ref = r.u32();
      v.kind = static_cast<target_kind>(r.u8());
      v.target = detail::read_name(r);
      v.text = r.rest();
      return finish(v);
    }
    case frame_type::ping:
      return finish(ping{r.u64()});
    case frame_type::who:
      return finish(who{});
    case frame_type::bye:
      return finish(bye{});
    case frame_type::welcome: {
      welcome v{};
      v.version = r.u8();
      v.max_frame = r.u32();
      v.server_info = r.rest();
      return finish(v);
    }
    case frame_type::name_ok:
      return finish(name_ok{detail::read_name(r)});
    case frame_type::name_refused: {
      name_refused v{};
      v.code = r.u16();
      v.value = detail::read_name(r);
      v.reason = r.rest();
      return finish(v);
    }
    case frame_type::users: {
      auto const count = r.u16();
      // Each name takes at least its length byte: refuse a count the frame
      // cannot hold before reserving memory for it.
      if (!r.ok || count > r.left()) return bad(t);
      users v;
      v.names.reserve(count);
      for (std::uint16_t i = 0; i < count && r.ok; ++i) v.names.push_back(detail::read_name(r));
      return finish(std::move(v));
    }
    case frame_type::joined:
      return finish(joined{detail::read_name(r)});
    case frame_type::left:
      return finish(left{detail::read_name(r)});
    case frame_type::message: {
      message v{};
      v.id = r.u64();
      v.timestamp_us = r.u64();
      v.kind = static_cast<target_kind>(r.u8());
      v.sender = detail::read_name(r);
      v.target = detail::read_name(r);
      v.text = r.rest();
      return finish(v);
    }
    case frame_type::sent: {
      sent v{};
      v.client_ref = r.u32();
      v.id = r.u64();
      return finish(v);
    }
    case frame_type::dropped:
      return finish(dropped{r.u32()});
    case frame_type::pong:
      return finish(pong{r.u64()});
    case frame_type::error: {
      error v{};
      v.code = r.u16();
      v.client_ref = r.u32();
      v.text = r.rest();
      return finish(v);
    }
  }
  return parse_error{errc::unknown_frame_type, t};
}

}  // namespace hcp2
}  // namespace hcp

template <>
struct std::is_error_code_enum<hcp::hcp2::errc> : std::true_type {};

#endif
