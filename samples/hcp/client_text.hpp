// howdy-client: text helpers. Names and chat text come from other users, so
// before anything reaches the terminal it is made safe to print: valid UTF-8,
// and no control characters that could move the cursor or change the
// terminal's state (an ESC sequence in a chat line must not repaint the screen).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>
#include <wchar.h>

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
    if (c < 0x80) { len = 1; cp = c; }
    else if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07u; }
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

// Terminal cells taken by a character (needs setlocale for anything outside
// ASCII; unknown widths count as one cell).
inline int cell_width(wchar_t ch) {
  const int w = ::wcwidth(ch);
  return w < 0 ? 1 : w;
}

inline int cell_width(std::wstring_view s) {
  int w = 0;
  for (wchar_t ch : s) w += cell_width(ch);
  return w;
}

// Splits a line into rows of at most `width` cells, at the last space of a
// row when there is one, else anywhere. An empty line is one empty row.
inline std::vector<std::wstring> wrap(std::wstring_view line, int width) {
  std::vector<std::wstring> rows;
  if (width < 1) width = 1;
  std::wstring row;
  int used = 0;
  std::size_t last_space = std::wstring::npos;
  for (wchar_t ch : line) {
    const int w = cell_width(ch);
    if (used + w > width && !row.empty()) {
      if (last_space != std::wstring::npos && last_space > 0) {
        std::wstring rest = row.substr(last_space + 1);
        row.resize(last_space);
        rows.push_back(std::move(row));
        row = std::move(rest);
      } else {
        rows.push_back(std::move(row));
        row.clear();
      }
      used = cell_width(row);
      last_space = std::wstring::npos;  // `rest` holds no space: it began after the last one
    }
    if (ch == L' ') last_space = row.size();
    row += ch;
    used += w;
  }
  rows.push_back(std::move(row));
  return rows;
}

// A server timestamp (microseconds since the Unix epoch) as local "HH:MM:SS",
// or "YYYY-MM-DD HH:MM:SS" when `with_date_if_old` and it is not from today
// (history can be days old; a bare time would mislead).
inline std::string clock_time(std::uint64_t timestamp_us, bool with_date_if_old = false) {
  const auto t = static_cast<std::time_t>(timestamp_us / 1000000);
  std::tm when{};
  if (!::localtime_r(&t, &when)) return "??:??:??";
  bool today = true;
  if (with_date_if_old) {
    const std::time_t now_t = std::time(nullptr);
    std::tm now{};
    today = ::localtime_r(&now_t, &now) && now.tm_year == when.tm_year && now.tm_yday == when.tm_yday;
  }
  char out[32];
  const auto n = std::strftime(out, sizeof out, today ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &when);
  return n ? std::string(out, n) : std::string("??:??:??");
}

// Splits "/login NAME PASSWORD" arguments: the password is the last word and
// the name everything before it (names may contain spaces; passwords typed
// this way cannot). Empty parts when the line has fewer than two words.
struct name_and_password {
  std::string_view name;
  std::string_view password;
};
inline name_and_password split_name_password(std::string_view args) {
  while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
  while (!args.empty() && args.back() == ' ') args.remove_suffix(1);
  const auto space = args.rfind(' ');
  if (space == std::string_view::npos) return {};
  auto name = args.substr(0, space);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return {name, args.substr(space + 1)};
}

// For "/login ..." and "/register ..." lines: where the password starts
// (what split_name_password would take), or npos when the line is not one of
// them or has no password yet. The UI hides these characters.
template <class Char>
std::size_t password_start(std::basic_string_view<Char> line) {
  for (std::string_view command : {"/login ", "/register "}) {
    if (line.size() < command.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < command.size() && match; ++i) match = line[i] == static_cast<Char>(command[i]);
    if (!match) continue;
    auto end = line.size();
    while (end > command.size() && line[end - 1] == static_cast<Char>(' ')) --end;
    std::size_t space = end;
    while (space > command.size() && line[space - 1] != static_cast<Char>(' ')) --space;
    // At least one word (the name) must come before the password.
    std::size_t before = space;
    while (before > command.size() && line[before - 1] == static_cast<Char>(' ')) --before;
    if (space == end || before <= command.size()) return std::basic_string_view<Char>::npos;
    return space;
  }
  return std::basic_string_view<Char>::npos;
}

}  // namespace hcp::client
