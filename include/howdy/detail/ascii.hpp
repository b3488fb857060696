// ASCII case folding, for names and header fields compared without regard to
// the case of ASCII letters (other bytes, UTF-8 included, compare exactly).
#pragma once

namespace howdy::detail {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace howdy::detail
