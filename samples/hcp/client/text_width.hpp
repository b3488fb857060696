// howdy-client: how much of the terminal a text takes, for the terminal UI:
// cells per character and lines wrapped into rows of a given width.
#pragma once

#include <string>
#include <string_view>
#include <vector>
#include <wchar.h>

namespace hcp::client {

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

}  // namespace hcp::client
