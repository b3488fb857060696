// Helpers shared by the HCP wire-format suites (test_hcp_protocol.cpp,
// test_hcp2_wire.cpp, test_hcp_text.cpp): bytes from hex, HCP/2 frames with a
// consistent length field, and checked access to parse() results.
#pragma once

#include "hcp/wire/hcp2_parse.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace hcp_wire_test {

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<std::byte const*>(s.data()), s.size()};
}

inline std::string from_hex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
    i += 2;
  }
  return out;
}

inline std::string nuls(std::size_t n) { return std::string(n, '\0'); }

// Sets the u32 length field of `frame` to match its size (to build frames
// whose header is consistent but whose payload is cut or padded).
inline std::string with_length(std::string frame) {
  auto const len = static_cast<std::uint32_t>(frame.size() - 4);
  frame[0] = static_cast<char>(len >> 24);
  frame[1] = static_cast<char>(len >> 16);
  frame[2] = static_cast<char>(len >> 8);
  frame[3] = static_cast<char>(len);
  return frame;
}

// By value: the variant is usually a temporary (its views point into the
// caller's bytes, which outlive it).
template <class T>
T get_frame(hcp::hcp2::frame const& f) {
  BOOST_TEST_REQUIRE(std::holds_alternative<T>(f));
  return std::get<T>(f);
}

inline hcp::hcp2::parse_error parse_fails(std::string_view bytes) {
  auto const f = hcp::hcp2::parse(as_bytes(bytes));
  BOOST_TEST_REQUIRE(std::holds_alternative<hcp::hcp2::parse_error>(f));
  return std::get<hcp::hcp2::parse_error>(f);
}

}  // namespace hcp_wire_test
