// A transparent string hash: unordered maps keyed by std::string can then be
// searched with a std::string_view, without building a string per lookup.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace howdy::detail {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace howdy::detail
