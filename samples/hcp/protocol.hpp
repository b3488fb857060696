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
// The seed-002 text protocol (namespace hcp::text, at the end) has plain
// std::string encoders and a parser for one frame's header.
//

#ifndef HOWDY_SAMPLES_HCP_PROTOCOL_HPP
#define HOWDY_SAMPLES_HCP_PROTOCOL_HPP

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <howdy/codec/header_body.hpp>
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
  // accounts
  register_account = 0x10,
  login = 0x11,
  roster_request = 0x12,
  // receipts
  received = 0x20,
  // rooms
  join = 0x30,
  leave = 0x31,
  rooms_request = 0x32,
  members_request = 0x33,
  // history
  history_request = 0x40,
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
  // accounts
  roster = 0x91,
  // receipts
  delivered = 0xA0,
  not_delivered = 0xA1,
  // rooms
  room_joined = 0xB0,
  room_left = 0xB1,
  room_list = 0xB2,
  room_members = 0xB3,
  // history
  history_end = 0xC0,
};

constexpr bool is_client_frame_type(std::uint8_t t) noexcept { return t >= 0x01 && t <= 0x7F; }
constexpr bool is_server_frame_type(std::uint8_t t) noexcept { return t >= 0x80; }

// SEND and MESSAGE: all (target empty), user (a name), room (a room name; HCP/2 only).
enum class target_kind : std::uint8_t { all = 0, user = 1, room = 2 };

// Wire error codes (u16) of ERROR, NAME_REFUSED and NOT_DELIVERED; also the
// text protocol's "ERROR nnn".
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
  wrong_password = 114,
  unknown_account = 115,
  too_many_attempts = 116,
  name_registered = 117,
  auth_required = 118,
  auth_disabled = 119,
  not_in_room = 120,
  invalid_room = 121,
  recipient_left = 122,
  storage_failed = 123,
  invalid_password = 124,
  room_limit = 125,
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
    case errc::wrong_password:
      return "wrong password";
    case errc::unknown_account:
      return "no account with that name";
    case errc::too_many_attempts:
      return "too many attempts; wait and try again";
    case errc::name_registered:
      return "that name belongs to a registered user";
    case errc::auth_required:
      return "this server requires an account: REGISTER or LOGIN";
    case errc::auth_disabled:
      return "accounts are disabled on this server";
    case errc::not_in_room:
      return "not a member of that room";
    case errc::invalid_room:
      return "invalid room name";
    case errc::recipient_left:
      return "not delivered: the recipient left before confirming";
    case errc::storage_failed:
      return "could not store the message; not sent";
    case errc::invalid_password:
      return "password must be 1 to 1024 bytes";
    case errc::room_limit:
      return "too many rooms";
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

// REGISTER/LOGIN passwords: 1..1024 bytes (any bytes; the server hashes
// them). parse() does not check this: the server answers NAME_REFUSED 124.
inline constexpr std::size_t max_password_size = 1024;
constexpr bool is_valid_password(std::string_view password) noexcept {
  return !password.empty() && password.size() <= max_password_size;
}

// ROSTER and ROOM_MEMBERS entries: status bits and a user name.
inline constexpr std::uint8_t status_online = 0x1;
inline constexpr std::uint8_t status_registered = 0x2;
struct roster_entry {
  std::uint8_t status;
  std::string_view name;
};

// ROOM_LIST entries.
struct room_entry {
  std::string_view room;
  std::uint32_t members;
};

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

inline std::size_t write_empty(std::span<std::byte> out, frame_type t) {
  begin(out, header_size, t);
  return header_size;
}

// `name` then `text`: REGISTER and LOGIN.
inline std::size_t write_name_text(std::span<std::byte> out, frame_type t, std::string_view name,
                                   std::string_view text) {
  hcp::detail::check_name(name);
  auto const size = header_size + name_len(name) + text.size();
  auto w = begin(out, size, t);
  w.name(name);
  w.bytes(text);
  return size;
}

// `name room` then `name user`: ROOM_JOINED and ROOM_LEFT.
inline std::size_t write_two_names(std::span<std::byte> out, frame_type t, std::string_view a, std::string_view b) {
  hcp::detail::check_name(a);
  hcp::detail::check_name(b);
  auto const size = header_size + name_len(a) + name_len(b);
  auto w = begin(out, size, t);
  w.name(a);
  w.name(b);
  return size;
}

inline std::uint16_t check_count(std::size_t count) {
  if (count > 0xFFFF) hcp::detail::throw_length("hcp2: more than 65535 entries");
  return static_cast<std::uint16_t>(count);
}

constexpr std::size_t roster_entries_size(std::span<const roster_entry> entries) noexcept {
  std::size_t n = 2;
  for (auto const& e : entries) n += 1 + name_len(e.name);
  return n;
}

// u16 count, then count x (u8 status, name): ROSTER and the tail of ROOM_MEMBERS.
inline void write_roster_entries(writer& w, std::span<const roster_entry> entries) {
  w.u16(static_cast<std::uint16_t>(entries.size()));
  for (auto const& e : entries) {
    w.u8(e.status);
    w.name(e.name);
  }
}

inline void check_roster_entries(std::span<const roster_entry> entries) {
  check_count(entries.size());
  for (auto const& e : entries) hcp::detail::check_name(e.name);
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
// Accounts, receipts, rooms, history (client frames).
constexpr std::size_t register_size(std::string_view name, std::string_view password) noexcept {
  return header_size + 1 + name.size() + password.size();
}
constexpr std::size_t login_size(std::string_view name, std::string_view password) noexcept {
  return register_size(name, password);
}
constexpr std::size_t roster_request_size() noexcept { return header_size; }
constexpr std::size_t received_size() noexcept { return header_size + 8; }
constexpr std::size_t join_size(std::string_view room) noexcept { return name_size(room); }
constexpr std::size_t leave_size(std::string_view room) noexcept { return name_size(room); }
constexpr std::size_t rooms_request_size() noexcept { return header_size; }
constexpr std::size_t members_request_size(std::string_view room) noexcept { return name_size(room); }
constexpr std::size_t history_request_size() noexcept { return header_size + 8; }
// (server frames)
constexpr std::size_t roster_size(std::span<const roster_entry> entries) noexcept {
  return header_size + detail::roster_entries_size(entries);
}
constexpr std::size_t delivered_size(std::string_view recipient) noexcept {
  return header_size + 8 + 1 + recipient.size();
}
constexpr std::size_t not_delivered_size(std::string_view recipient) noexcept {
  return header_size + 8 + 2 + 1 + recipient.size();
}
constexpr std::size_t room_joined_size(std::string_view room, std::string_view user) noexcept {
  return header_size + 1 + room.size() + 1 + user.size();
}
constexpr std::size_t room_left_size(std::string_view room, std::string_view user) noexcept {
  return room_joined_size(room, user);
}
constexpr std::size_t room_list_size(std::span<const room_entry> rooms) noexcept {
  std::size_t n = header_size + 2;
  for (auto const& r : rooms) n += 1 + r.room.size() + 4;
  return n;
}
constexpr std::size_t room_members_size(std::string_view room, std::span<const roster_entry> members) noexcept {
  return header_size + 1 + room.size() + detail::roster_entries_size(members);
}
constexpr std::size_t history_end_size() noexcept { return header_size + 8 + 1; }

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
inline std::size_t write_register(std::span<std::byte> out, std::string_view name, std::string_view password) {
  return detail::write_name_text(out, frame_type::register_account, name, password);
}
inline std::size_t write_login(std::span<std::byte> out, std::string_view name, std::string_view password) {
  return detail::write_name_text(out, frame_type::login, name, password);
}
inline std::size_t write_roster_request(std::span<std::byte> out) {
  return detail::write_empty(out, frame_type::roster_request);
}
inline std::size_t write_received(std::span<std::byte> out, std::uint64_t id) {
  return detail::write_int_only(out, frame_type::received, id);
}
inline std::size_t write_join(std::span<std::byte> out, std::string_view room) {
  return detail::write_name_only(out, frame_type::join, room);
}
inline std::size_t write_leave(std::span<std::byte> out, std::string_view room) {
  return detail::write_name_only(out, frame_type::leave, room);
}
inline std::size_t write_rooms_request(std::span<std::byte> out) {
  return detail::write_empty(out, frame_type::rooms_request);
}
inline std::size_t write_members_request(std::span<std::byte> out, std::string_view room) {
  return detail::write_name_only(out, frame_type::members_request, room);
}
inline std::size_t write_history_request(std::span<std::byte> out, std::uint64_t after_id) {
  return detail::write_int_only(out, frame_type::history_request, after_id);
}
inline std::size_t write_roster(std::span<std::byte> out, std::span<const roster_entry> entries) {
  detail::check_roster_entries(entries);
  auto const size = roster_size(entries);
  auto w = detail::begin(out, size, frame_type::roster);
  detail::write_roster_entries(w, entries);
  return size;
}
inline std::size_t write_delivered(std::span<std::byte> out, std::uint64_t id, std::string_view recipient) {
  hcp::detail::check_name(recipient);
  auto const size = delivered_size(recipient);
  auto w = detail::begin(out, size, frame_type::delivered);
  w.u64(id);
  w.name(recipient);
  return size;
}
inline std::size_t write_not_delivered(std::span<std::byte> out, std::uint64_t id, errc code,
                                       std::string_view recipient) {
  hcp::detail::check_name(recipient);
  auto const size = not_delivered_size(recipient);
  auto w = detail::begin(out, size, frame_type::not_delivered);
  w.u64(id);
  w.u16(static_cast<std::uint16_t>(code));
  w.name(recipient);
  return size;
}
inline std::size_t write_room_joined(std::span<std::byte> out, std::string_view room, std::string_view user) {
  return detail::write_two_names(out, frame_type::room_joined, room, user);
}
inline std::size_t write_room_left(std::span<std::byte> out, std::string_view room, std::string_view user) {
  return detail::write_two_names(out, frame_type::room_left, room, user);
}
inline std::size_t write_room_list(std::span<std::byte> out, std::span<const room_entry> rooms) {
  auto const count = detail::check_count(rooms.size());
  for (auto const& r : rooms) hcp::detail::check_name(r.room);
  auto const size = room_list_size(rooms);
  auto w = detail::begin(out, size, frame_type::room_list);
  w.u16(count);
  for (auto const& r : rooms) {
    w.name(r.room);
    w.u32(r.members);
  }
  return size;
}
inline std::size_t write_room_members(std::span<std::byte> out, std::string_view room,
                                      std::span<const roster_entry> members) {
  hcp::detail::check_name(room);
  detail::check_roster_entries(members);
  auto const size = room_members_size(room, members);
  auto w = detail::begin(out, size, frame_type::room_members);
  w.name(room);
  detail::write_roster_entries(w, members);
  return size;
}
inline std::size_t write_history_end(std::span<std::byte> out, std::uint64_t last_id, bool more) {
  auto w = detail::begin(out, history_end_size(), frame_type::history_end);
  w.u64(last_id);
  w.u8(more ? 1 : 0);
  return history_end_size();
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
inline std::string encode_register(std::string_view name, std::string_view password) {
  return hcp::detail::to_string(register_size(name, password), [&](auto o) { write_register(o, name, password); });
}
inline std::string encode_login(std::string_view name, std::string_view password) {
  return hcp::detail::to_string(login_size(name, password), [&](auto o) { write_login(o, name, password); });
}
inline std::string encode_roster_request() {
  return hcp::detail::to_string(roster_request_size(), [](auto o) { write_roster_request(o); });
}
inline std::string encode_received(std::uint64_t id) {
  return hcp::detail::to_string(received_size(), [&](auto o) { write_received(o, id); });
}
inline std::string encode_join(std::string_view room) {
  return hcp::detail::to_string(join_size(room), [&](auto o) { write_join(o, room); });
}
inline std::string encode_leave(std::string_view room) {
  return hcp::detail::to_string(leave_size(room), [&](auto o) { write_leave(o, room); });
}
inline std::string encode_rooms_request() {
  return hcp::detail::to_string(rooms_request_size(), [](auto o) { write_rooms_request(o); });
}
inline std::string encode_members_request(std::string_view room) {
  return hcp::detail::to_string(members_request_size(room), [&](auto o) { write_members_request(o, room); });
}
inline std::string encode_history_request(std::uint64_t after_id) {
  return hcp::detail::to_string(history_request_size(), [&](auto o) { write_history_request(o, after_id); });
}
inline std::string encode_roster(std::span<const roster_entry> entries) {
  return hcp::detail::to_string(roster_size(entries), [&](auto o) { write_roster(o, entries); });
}
inline std::string encode_delivered(std::uint64_t id, std::string_view recipient) {
  return hcp::detail::to_string(delivered_size(recipient), [&](auto o) { write_delivered(o, id, recipient); });
}
inline std::string encode_not_delivered(std::uint64_t id, errc code, std::string_view recipient) {
  return hcp::detail::to_string(not_delivered_size(recipient),
                                [&](auto o) { write_not_delivered(o, id, code, recipient); });
}
inline std::string encode_room_joined(std::string_view room, std::string_view user) {
  return hcp::detail::to_string(room_joined_size(room, user), [&](auto o) { write_room_joined(o, room, user); });
}
inline std::string encode_room_left(std::string_view room, std::string_view user) {
  return hcp::detail::to_string(room_left_size(room, user), [&](auto o) { write_room_left(o, room, user); });
}
inline std::string encode_room_list(std::span<const room_entry> rooms) {
  return hcp::detail::to_string(room_list_size(rooms), [&](auto o) { write_room_list(o, rooms); });
}
inline std::string encode_room_members(std::string_view room, std::span<const roster_entry> members) {
  return hcp::detail::to_string(room_members_size(room, members),
                                [&](auto o) { write_room_members(o, room, members); });
}
inline std::string encode_history_end(std::uint64_t last_id, bool more) {
  return hcp::detail::to_string(history_end_size(), [&](auto o) { write_history_end(o, last_id, more); });
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
struct register_account {
  std::string_view name;
  std::string_view password;  // not length-checked here (see is_valid_password)
};
struct login {
  std::string_view name;
  std::string_view password;
};
struct roster_request {};
struct received {
  std::uint64_t id;
};
struct join {
  std::string_view room;
};
struct leave {
  std::string_view room;
};
struct rooms_request {};
struct members_request {
  std::string_view room;
};
struct history_request {
  std::uint64_t after_id;
};
struct roster {
  std::vector<roster_entry> entries;
};
struct delivered {
  std::uint64_t id;
  std::string_view recipient;
};
struct not_delivered {
  std::uint64_t id;
  std::uint16_t code;
  std::string_view recipient;
};
struct room_joined {
  std::string_view room;
  std::string_view user;
};
struct room_left {
  std::string_view room;
  std::string_view user;
};
struct room_list {
  std::vector<room_entry> rooms;
};
struct room_members {
  std::string_view room;
  std::vector<roster_entry> members;
};
struct history_end {
  std::uint64_t last_id;  // 0 if nothing was replayed
  bool more;              // u8 on the wire, non-zero: more stored, ask HISTORY after last_id
};

// Why a frame could not be decoded: errc::malformed_frame (reply ERROR 103 and
// close) or errc::unknown_frame_type (reply ERROR 108 and skip the frame).
struct parse_error {
  errc code;
  std::uint8_t type;  // 0 when the header itself is bad
};

using frame = std::variant<parse_error, hello, name, send, ping, who, bye, welcome, name_ok, name_refused, users,
                           joined, left, message, sent, dropped, pong, error, register_account, login, roster_request,
                           received, join, leave, rooms_request, members_request, history_request, roster, delivered,
                           not_delivered, room_joined, room_left, room_list, room_members, history_end>;

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

// u16 count, then count x (u8 status, name). Each entry takes at least two
// bytes: a count the frame cannot hold is refused before reserving for it.
inline std::vector<roster_entry> read_roster_entries(hcp::detail::reader& r) {
  std::vector<roster_entry> entries;
  auto const count = r.u16();
  if (!r.ok || count > r.left() / 2) {
    r.ok = false;
    return entries;
  }
  entries.reserve(count);
  for (std::uint16_t i = 0; i < count && r.ok; ++i) {
    roster_entry e{};
    e.status = r.u8();
    e.name = read_name(r);
    entries.push_back(e);
  }
  return entries;
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
    case frame_type::register_account: {
      register_account v{};
      v.name = detail::read_name(r);
      v.password = r.rest();
      return finish(v);
    }
    case frame_type::login: {
      login v{};
      v.name = detail::read_name(r);
      v.password = r.rest();
      return finish(v);
    }
    case frame_type::roster_request:
      return finish(roster_request{});
    case frame_type::received:
      return finish(received{r.u64()});
    case frame_type::join:
      return finish(join{detail::read_name(r)});
    case frame_type::leave:
      return finish(leave{detail::read_name(r)});
    case frame_type::rooms_request:
      return finish(rooms_request{});
    case frame_type::members_request:
      return finish(members_request{detail::read_name(r)});
    case frame_type::history_request:
      return finish(history_request{r.u64()});
    case frame_type::roster:
      return finish(roster{detail::read_roster_entries(r)});
    case frame_type::delivered: {
      delivered v{};
      v.id = r.u64();
      v.recipient = detail::read_name(r);
      return finish(v);
    }
    case frame_type::not_delivered: {
      not_delivered v{};
      v.id = r.u64();
      v.code = r.u16();
      v.recipient = detail::read_name(r);
      return finish(v);
    }
    case frame_type::room_joined: {
      room_joined v{};
      v.room = detail::read_name(r);
      v.user = detail::read_name(r);
      return finish(v);
    }
    case frame_type::room_left: {
      room_left v{};
      v.room = detail::read_name(r);
      v.user = detail::read_name(r);
      return finish(v);
    }
    case frame_type::room_list: {
      auto const count = r.u16();
      // Each entry takes at least five bytes (length byte + u32).
      if (!r.ok || count > r.left() / 5) return bad(t);
      room_list v;
      v.rooms.reserve(count);
      for (std::uint16_t i = 0; i < count && r.ok; ++i) {
        room_entry e{};
        e.room = detail::read_name(r);
        e.members = r.u32();
        v.rooms.push_back(e);
      }
      return finish(std::move(v));
    }
    case frame_type::room_members: {
      room_members v;
      v.room = detail::read_name(r);
      v.members = detail::read_roster_entries(r);
      return finish(std::move(v));
    }
    case frame_type::history_end: {
      history_end v{};
      v.last_id = r.u64();
      v.more = r.u8() != 0;
      return finish(v);
    }
  }
  return parse_error{errc::unknown_frame_type, t};
}

}  // namespace hcp2

// ===========================================================================
// The seed-002 text protocol: "COMMAND arg\n" header lines, a blank line,
// then Content-length bytes of body (docs/protocol.md, section 3). A frame is
// found in the stream by howdy::codec::header_body(delimiter,
// content_length_field); parse_command reads its header.
// ===========================================================================
namespace text {

inline constexpr std::string_view delimiter = "\n\n";
inline constexpr std::string_view content_length_field = "Content-length";
inline constexpr std::string_view all = "ALL";  // recipient meaning everyone (compared exactly)

enum class direction { tosend, torecv };

constexpr bool is_everyone(std::string_view recipient) noexcept { return recipient == all; }

constexpr bool is_ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A text-protocol user name: 1..64 ASCII letters and digits, not ALL in any case.
constexpr bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > name_field_size) return false;
  for (char c : name)
    if (!is_ascii_alnum(c)) return false;
  if (name.size() == all.size()) {
    bool same = true;
    for (std::size_t i = 0; i < all.size(); ++i) same = same && (name[i] | 0x20) == (all[i] | 0x20);
    if (same) return false;
  }
  return true;
}

// Whether `name` can follow a command word: HCP users may have names the text
// protocol cannot carry (a line break would end the header). The server checks
// this before forwarding to a text user; the encoders refuse such names.
constexpr bool can_carry_name(std::string_view name) noexcept {
  return name.size() <= name_field_size && name.find('\n') == std::string_view::npos;
}

// The phrase after "ERROR nnn": the seed document's for 100..103, short ones
// for names, describe() for the rest.
constexpr std::string_view phrase(hcp2::errc code) noexcept {
  switch (code) {
    case hcp2::errc::malformed_username:
      return "Malformed username";
    case hcp2::errc::not_registered:
      return "No user registered";
    case hcp2::errc::unknown_recipient:
      return "Unable to send";
    case hcp2::errc::malformed_frame:
      return "Header incomplete";
    case hcp2::errc::name_taken:
      return "Username taken";
    case hcp2::errc::name_reserved:
      return "Username reserved";
    case hcp2::errc::name_registered:
      return "Username registered";
    case hcp2::errc::auth_required:
      return "Account required";
    default:
      return hcp2::describe(code);
  }
}

namespace detail {

inline void check_name(std::string_view name) {
  if (!can_carry_name(name)) throw std::invalid_argument("hcp::text: name over 64 bytes or with a line break");
}

inline std::string line(std::string_view word, std::string_view arg) {
  std::string s;
  s.reserve(word.size() + 1 + arg.size() + delimiter.size());
  s.append(word).append(" ").append(arg).append(delimiter);
  return s;
}

inline std::string with_body(std::string_view word, std::string_view arg, std::string_view body) {
  auto const length = std::to_string(body.size());
  std::string s;
  s.reserve(word.size() + arg.size() + content_length_field.size() + length.size() + body.size() + 6);
  s.append(word).append(" ").append(arg).append("\n");
  s.append(content_length_field).append(": ").append(length).append(delimiter);
  s.append(body);
  return s;
}

}  // namespace detail

// Server -> client.
inline std::string registered(direction d, std::string_view name) {
  detail::check_name(name);
  return detail::line(d == direction::tosend ? "REGISTERED TOSEND" : "REGISTERED TORECV", name);
}
inline std::string error(int code, std::string_view text) {
  return "ERROR " + std::to_string(code) + " " + std::string(text) + std::string(delimiter);
}
inline std::string error(hcp2::errc code, std::string_view text) { return error(static_cast<int>(code), text); }
inline std::string error(hcp2::errc code) { return error(code, phrase(code)); }
inline std::string error(int code) { return error(static_cast<hcp2::errc>(code)); }
inline std::string forward(std::string_view sender, std::string_view body) {
  detail::check_name(sender);
  return detail::with_body("FORWARD", sender, body);
}
inline std::string sent(std::string_view recipient) {
  detail::check_name(recipient);
  return detail::line("SENT", recipient);
}

// Client -> server (for tests and tools).
inline std::string register_line(direction d, std::string_view name) {
  detail::check_name(name);
  return detail::line(d == direction::tosend ? "REGISTER TOSEND" : "REGISTER TORECV", name);
}
inline std::string send(std::string_view recipient, std::string_view body) {
  detail::check_name(recipient);
  return detail::with_body("SEND", recipient, body);
}
inline std::string received(std::string_view sender) {
  detail::check_name(sender);
  return detail::line("RECEIVED", sender);
}

// One frame's header, without the trailing delimiter. Structural only, like
// hcp2::parse: whether the name is acceptable (is_valid_name), the command
// allowed on this connection or the ERROR code known is the server's decision.
enum class command_kind {
  register_,   // REGISTER TOSEND|TORECV arg
  send,        // SEND arg (+ content_length); also the seed's "SEND rcpt" success reply
  received,    // RECEIVED arg
  error,       // ERROR code arg (arg: the phrase as sent, any case)
  registered,  // REGISTERED TOSEND|TORECV arg (server replies: for clients and tests)
  forward,     // FORWARD arg (+ content_length)
  sent,        // SENT arg
  unknown,     // anything else; arg: the first line
};
struct command {
  command_kind kind = command_kind::unknown;
  text::direction direction = text::direction::tosend;  // register_ and registered only
  std::string_view arg;                                 // a view into the header
  int code = 0;                                         // error only
  std::optional<std::size_t> content_length;            // a well-formed Content-length field, any command
};

inline command parse_command(std::string_view header) {
  command c;
  auto const eol = header.find('\n');
  std::string_view first = header.substr(0, eol);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);  // as header_field reads lines
  if (eol != std::string_view::npos) {
    // Only the lines after the command line are fields. Length rules are the
    // header_body codec's: decimal digits that fit a size_t.
    if (auto v = howdy::codec::header_field(header.substr(eol + 1), content_length_field); v && !v->empty()) {
      std::size_t n = 0;
      auto const [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec == std::errc{} && p == v->data() + v->size()) c.content_length = n;
    }
  }
  c.arg = first;

  // "WORD" or "WORD rest": the word must be a whole word.
  auto const space = first.find(' ');
  auto const word = first.substr(0, space);
  auto const rest = space == std::string_view::npos ? std::string_view{} : first.substr(space + 1);
  auto const with_direction = [&](command_kind k) {
    auto const sp = rest.find(' ');
    auto const d = rest.substr(0, sp);
    if (d != "TOSEND" && d != "TORECV") return;  // stays unknown
    c.kind = k;
    c.direction = d == "TOSEND" ? direction::tosend : direction::torecv;
    c.arg = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  };

  if (word == "REGISTER") {
    with_direction(command_kind::register_);
  } else if (word == "REGISTERED") {
    with_direction(command_kind::registered);
  } else if (word == "SEND" || word == "RECEIVED" || word == "FORWARD" || word == "SENT") {
    c.kind = word == "SEND"       ? command_kind::send
             : word == "RECEIVED" ? command_kind::received
             : word == "FORWARD"  ? command_kind::forward
                                  : command_kind::sent;
    c.arg = rest;
  } else if (word == "ERROR") {
    // "ERROR nnn phrase": nnn decimal, the phrase optional and in any case.
    auto const sp = rest.find(' ');
    auto const digits = rest.substr(0, sp);
    int code = 0;
    auto const [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), code);
    if (!digits.empty() && digits.size() <= 5 && ec == std::errc{} && p == digits.data() + digits.size() &&
        digits.front() != '-') {
      c.kind = command_kind::error;
      c.code = code;
      c.arg = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
  }
  return c;
}

}  // namespace text
}  // namespace hcp

template <>
struct std::is_error_code_enum<hcp::hcp2::errc> : std::true_type {};

#endif
