// howdy-client: text made safe to print. Names and chat text come from other
// users, so before anything reaches the terminal it is made valid UTF-8
// without control characters that could move the cursor or change the
// terminal's state (an ESC sequence in a chat line must not repaint the screen).
// Also the UTF-8 <-> code point conversions the terminal UI needs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hcp::client {

inline constexpr char32_t replacement_char = U'\uFFFD';

// Decodes UTF-8 leniently: each byte that does not start a valid sequence
// (overlong, surrogate, above U+10FFFF, cut short) becomes U+FFFD.
inline std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07u;
    }
    bool ok = len != 0 && s.size() - i >= len;
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xC0u) == 0x80u;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (ok && len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok && len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ok = false;
    if (!ok) {
      out.push_back(replacement_char);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

template <class Chars>
std::string encode_utf8(const Chars& chars) {
  std::string out;
  out.reserve(chars.size());
  for (auto ch : chars) append_utf8(out, static_cast<char32_t>(ch));
  return out;
}

constexpr bool is_control(char32_t cp) noexcept { return cp < 0x20 || (cp >= 0x7F && cp < 0xA0); }

// `s` as safe to print: valid UTF-8 whose control characters are replaced
// (a tab by a space, the rest by U+FFFD, which also shows HCP/1's 0x1A
// substitute for a control byte).
inline std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : decode_utf8(s)) append_utf8(out, cp == U'\t' ? U' ' : is_control(cp) ? replacement_char : cp);
  return out;
}

}  // namespace hcp::client
