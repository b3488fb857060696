// UTF-8 validation: for protocols whose text must be UTF-8 (a server checks
// message text with it before passing it on). Strict: no overlong forms, no
// surrogates, nothing above U+10FFFF, no sequence cut short.
#pragma once

#include <howdy/detail/utf8.hpp>

#include <cstddef>
#include <string_view>

namespace howdy {

constexpr bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t pos = 0; pos < s.size();) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {  // ASCII, the common case: no decoding
      ++pos;
      continue;
    }
    if (!detail::next_code_point(s, pos)) return false;
  }
  return true;
}

}  // namespace howdy
