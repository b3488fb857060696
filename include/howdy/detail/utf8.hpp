// Strict UTF-8 decoding, one code point at a time: no overlong forms, no
// surrogates, nothing above U+10FFFF. howdy/utf8.hpp and the name rules use it.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace howdy::detail {

// Decodes the code point at `pos` and advances it; nullopt on invalid bytes.
constexpr std::optional<char32_t> next_code_point(std::string_view s, std::size_t& pos) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(pos);
  std::size_t length = 0;
  char32_t cp = 0;
  if (lead < 0x80) { ++pos; return lead; }
  if (lead >= 0xC2 && lead <= 0xDF) { length = 2; cp = lead & 0x1F; }
  else if (lead >= 0xE0 && lead <= 0xEF) { length = 3; cp = lead & 0x0F; }
  else if (lead >= 0xF0 && lead <= 0xF4) { length = 4; cp = lead & 0x07; }
  else return std::nullopt;  // a continuation byte, C0/C1 (overlong), F5..FF
  if (s.size() - pos < length) return std::nullopt;
  for (std::size_t i = 1; i < length; ++i) {
    const unsigned char c = byte(pos + i);
    if ((c & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (c & 0x3F);
  }
  constexpr char32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_length[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  pos += length;
  return cp;
}

}  // namespace howdy::detail
