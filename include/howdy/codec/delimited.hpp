// Frames that end with a delimiter, such as "\n" (lines) or "\n\n" (blocks).
#pragma once

#include <howdy/frame_codec.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace howdy::codec {

class delimited {
 public:
  explicit delimited(std::string_view delimiter = "\n") : delimiter_(delimiter) {}

  const std::string& delimiter() const noexcept { return delimiter_; }

  decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) noexcept {
    const auto* data = reinterpret_cast<const char*>(buffered.data());
    const std::string_view text(data, std::min(buffered.size(), max_frame));
    // Resume where the last call stopped, minus what could be a partial delimiter.
    const std::size_t from = scanned_ >= delimiter_.size() ? scanned_ - (delimiter_.size() - 1) : 0;
    const std::size_t at = text.find(delimiter_, from);
    if (at != std::string_view::npos) {
      scanned_ = 0;
      return decode_result::complete(at + delimiter_.size(), 0, at);
    }
    if (buffered.size() >= max_frame) {
      scanned_ = 0;
      return decode_result::too_large();
    }
    scanned_ = text.size();
    return decode_result::need_more();
  }

 private:
  std::string delimiter_;
  std::size_t scanned_ = 0;  // bytes of the current frame already searched
};

inline delimited lines() { return delimited("\n"); }
inline delimited blocks() { return delimited("\n\n"); }

}  // namespace howdy::codec
