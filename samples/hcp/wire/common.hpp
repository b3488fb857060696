// What the HCP wire formats share: the port, the 64-byte name limit and the
// name rules of HCP/1 and HCP/2, the reserved names, and the byte writer and
// reader their encoders and decoders are built on.
//
// The message codecs in wire/ turn messages into bytes and back;
// docs/protocol.md is the specification. Encoders come in three forms per
// message:
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
// return string_views into it. Finding where a message ends in a byte stream
// is the job of each protocol's stream_codec.
#pragma once

#include <howdy/utf8.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hcp {

inline constexpr std::uint16_t default_port = 20002;

// Wall-clock microseconds since the Unix epoch: message timestamps, account
// creation times, the floor of message ids (server), times shown (client).
inline std::uint64_t now_us() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

// Both protocols cap a name at 64 bytes of UTF-8 (HCP/1: the fixed field).
inline constexpr std::size_t name_field_size = 64;

// 'All' addresses everyone, 'Server' is the proposal destination in the
// original client; neither may be taken by a user. is_reserved_name compares
// exactly, like the original; the server refuses them in any case or width too
// (its names are one per NFKC case folding: server/names.hpp).
inline constexpr std::array<std::string_view, 2> reserved_names{"All", "Server"};

constexpr bool is_reserved_name(std::string_view name) noexcept {
  for (auto r : reserved_names)
    if (name == r) return true;
  return false;
}

// A user name as both protocols accept it: 1..64 bytes of valid UTF-8, no
// NUL (it is the HCP/1 padding) and no 0x01..0x05 (HCP/1 packet starts; the
// HCP/1 stream codec relies on them never appearing inside a packet).
// Reserved names are valid here; they are refused separately.
constexpr bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > name_field_size) return false;
  for (char ch : name)
    if (static_cast<unsigned char>(ch) <= 0x05) return false;
  return howdy::is_valid_utf8(name);
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

}  // namespace hcp
