// HCP/1, the original binary protocol: a type byte, then fixed 64-byte
// NUL-padded names; a type 5 then text. Its encoders and decoders (see
// common.hpp for their three forms) and its stream_codec, which finds where a
// packet ends (there are no lengths on the wire; docs/protocol.md).
#pragma once

#include "common.hpp"

#include <howdy/frame_codec.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hcp::hcp1 {

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

// A proposal longer than 65 bytes: what the original client sends for a name
// over 64 bytes (unpadded, 1 + its length; stream_codec keeps it whole). Its
// answer is a nak echoing the first 64 bytes.
inline bool is_overlong_proposal(std::span<const std::byte> packet) noexcept {
  return packet.size() > name_packet_size && packet[0] == std::byte(type::proposal);
}

// ---- framing --------------------------------------------------------------

// Where a packet ends in a byte stream, for howdy::framed_reader. HCP/1 has
// no length field: types 1-3 are name_packet_size bytes, a type 4 is
// name-field blocks, a type 5 is message_header_size bytes and a text of any
// length. A 4 or 5 therefore ends where the peer's next packet starts (a type
// byte, which never occurs in names or chat text) or, when the bytes received
// so far end inside it, where they end if nothing more is waiting to be read
// (ends_if_idle). A text cut inside a UTF-8 sequence, or before its first
// byte, waits for the rest. A proposal whose 64-byte field has no padding
// left may be the original client's unpadded name over 64 bytes: it runs,
// like a text, to the next type byte or to the end of what arrived with it.
struct stream_codec {
  howdy::decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) const noexcept {
    using howdy::decode_result;
    if (buffered.empty()) return decode_result::need_more();
    switch (static_cast<type>(buffered[0])) {
      case type::proposal:
        if (name_packet_size > max_frame) return decode_result::too_large();
        if (buffered.size() < name_packet_size) return decode_result::need_more();
        return decode_proposal(buffered, max_frame);
      case type::ack:
      case type::nak:
        if (name_packet_size > max_frame) return decode_result::too_large();
        if (buffered.size() < name_packet_size) return decode_result::need_more();
        return decode_result::complete(name_packet_size, 0, name_packet_size);
      case type::update:
        return decode_update(buffered, max_frame);
      case type::message:
        return decode_message(buffered, max_frame);
    }
    return decode_result::malformed();
  }

 private:
  static howdy::decode_result decode_proposal(std::span<const std::byte> b, std::size_t max_frame) noexcept {
    using howdy::decode_result;
    if (b[name_packet_size - 1] == std::byte{0}) return decode_result::complete(name_packet_size, 0, name_packet_size);
    std::size_t end = name_packet_size;
    while (end < b.size() && !is_type_byte(b[end])) {
      if (end + 1 > max_frame) return decode_result::too_large();
      ++end;
    }
    if (end < b.size()) return decode_result::complete(end, 0, end);
    return decode_result::ends_if_idle(end, 0, end);
  }

  static howdy::decode_result decode_update(std::span<const std::byte> b, std::size_t max_frame) noexcept {
    using howdy::decode_result;
    std::size_t end = 1;
    while (end < b.size() && !is_type_byte(b[end])) {
      if (end + name_field_size > max_frame) return decode_result::too_large();
      if (b.size() - end < name_field_size) return decode_result::need_more();
      end += name_field_size;
    }
    if (end < b.size()) return decode_result::complete(end, 0, end);
    if (end == 1) return decode_result::need_more();
    return decode_result::ends_if_idle(end, 0, end);
  }

  static howdy::decode_result decode_message(std::span<const std::byte> b, std::size_t max_frame) noexcept {
    using howdy::decode_result;
    if (message_header_size >= max_frame) return decode_result::too_large();
    if (b.size() <= message_header_size) return decode_result::need_more();
    // A packet may be exactly max_frame bytes: the next one may start right there.
    const std::size_t limit = b.size() <= max_frame ? b.size() : max_frame + 1;
    for (std::size_t i = message_header_size; i < limit; ++i)
      if (is_type_byte(b[i])) return decode_result::complete(i, 0, i);
    if (b.size() > max_frame) return decode_result::too_large();
    if (ends_inside_utf8_sequence(b.subspan(message_header_size))) return decode_result::need_more();
    return decode_result::ends_if_idle(b.size(), 0, b.size());
  }

  // True when the last bytes are the start of a multi-byte UTF-8 sequence
  // whose continuation bytes have not arrived yet.
  static bool ends_inside_utf8_sequence(std::span<const std::byte> text) noexcept {
    const std::size_t n = text.size();
    for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
      const auto c = std::to_integer<unsigned>(text[n - back]);
      if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
      const std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      return length > back;
    }
    return false;
  }
};

}  // namespace hcp::hcp1
