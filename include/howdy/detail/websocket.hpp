// Internals of howdy/websocket.hpp: HTTP/1.1 token rules, the frame header's
// wire layout, unmasking. Not API.
#pragma once

#include <howdy/detail/ascii.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace howdy::detail::ws {

// RFC 9110 tchar: the characters of a header name or a token.
constexpr bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

constexpr bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

// A header value may hold visible characters, spaces and tabs, and obs-text
// (bytes >= 0x80); no other control character.
constexpr bool is_field_value(std::string_view s) noexcept {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0x7F || (u < 0x20 && u != '\t')) return false;
  }
  return true;
}

using detail::ascii_iequal;
using detail::trim_blanks;

// True if the comma-separated list `value` has an element equal to `token`
// (ASCII case-insensitive), as in "keep-alive, Upgrade".
constexpr bool list_has_token(std::string_view value, std::string_view token) noexcept {
  while (true) {
    const std::size_t comma = value.find(',');
    if (ascii_iequal(trim_blanks(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

constexpr bool is_base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// Sec-WebSocket-Key: the canonical base64 of 16 bytes: 22 characters and "==",
// the 22nd carrying only 2 bits (so one of A, Q, g, w).
constexpr bool is_websocket_key(std::string_view key) noexcept {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (std::size_t i = 0; i < 22; ++i)
    if (!is_base64_char(key[i])) return false;
  return std::string_view("AQgw").find(key[21]) != std::string_view::npos;
}

// The frame header, RFC 6455 section 5.2.
inline constexpr std::uint8_t fin_bit = 0x80;
inline constexpr std::uint8_t rsv_bits = 0x70;
inline constexpr std::uint8_t opcode_bits = 0x0F;
inline constexpr std::uint8_t mask_bit = 0x80;
inline constexpr std::uint8_t length_bits = 0x7F;
inline constexpr std::size_t max_control_payload = 125;

constexpr std::uint8_t byte_at(std::span<const std::byte> b, std::size_t i) noexcept {
  return std::to_integer<std::uint8_t>(b[i]);
}

// Bytes of the header of a server (unmasked) frame carrying `payload` bytes.
constexpr std::size_t server_header_size(std::size_t payload) noexcept {
  return payload < 126 ? 2 : payload <= 0xFFFF ? 4 : 10;
}

// Writes a server frame's header (no mask) into `out` (server_header_size(payload) bytes).
inline void write_server_header(std::span<std::byte> out, std::uint8_t first, std::size_t payload) noexcept {
  out[0] = std::byte{first};
  if (payload < 126) {
    out[1] = std::byte(static_cast<std::uint8_t>(payload));
  } else if (payload <= 0xFFFF) {
    out[1] = std::byte{126};
    out[2] = std::byte(static_cast<std::uint8_t>(payload >> 8));
    out[3] = std::byte(static_cast<std::uint8_t>(payload));
  } else {
    out[1] = std::byte{127};
    const auto n = static_cast<std::uint64_t>(payload);
    for (int i = 0; i < 8; ++i) out[2 + i] = std::byte(static_cast<std::uint8_t>(n >> (56 - 8 * i)));
  }
}

// XORs `in` with the 4-byte `key` into `out` (same size); `phase` is the
// offset of in[0] within its frame's payload, modulo 4.
// Eight bytes at a time, then the tail.
inline void unmask(std::span<const std::byte> in, std::byte* out, const std::array<std::byte, 4>& key,
                   std::size_t phase = 0) noexcept {
  std::byte wide_key[8];
  for (std::size_t j = 0; j < 8; ++j) wide_key[j] = key[(j + phase) & 3];
  std::uint64_t k;
  std::memcpy(&k, wide_key, 8);
  std::size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, in.data() + i, 8);
    w ^= k;
    std::memcpy(out + i, &w, 8);
  }
  for (; i < in.size(); ++i) out[i] = in[i] ^ key[(i + phase) & 3];
}

}  // namespace howdy::detail::ws
