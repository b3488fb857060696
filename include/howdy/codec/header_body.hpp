// Frames made of a delimited header and a body whose length a header field
// gives, as in "SEND bob\nContent-length: 5\n\nhello". No such field: no body.
// The payload is the body; the header is the frame's first
// payload_offset - delimiter().size() bytes.
#pragma once

#include <howdy/codec/delimited.hpp>
#include <howdy/detail/ascii.hpp>
#include <howdy/frame_codec.hpp>

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace howdy::detail {


// All decimal digits and within size_t; nullopt otherwise (empty, sign, overflow).
inline std::optional<std::size_t> parse_header_length(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
  std::size_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::size_t>(c - '0');
    if (n > (max - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return n;
}

}  // namespace howdy::detail

namespace howdy::codec {

// The value of the first "Name: value" line of `header` whose name equals `name`
// (ASCII letters compared case-insensitively), trimmed of spaces and tabs.
// Lines end with "\n" or "\r\n". Every line is looked at, the first one too.
inline std::optional<std::string_view> header_field(std::string_view header, std::string_view name) noexcept {
  while (!header.empty()) {
    const std::size_t end = header.find('\n');
    std::string_view line = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && howdy::detail::ascii_iequal(line.substr(0, colon), name))
      return howdy::detail::trim_blanks(line.substr(colon + 1));
  }
  return std::nullopt;
}

class header_body {
 public:
  header_body() : header_body("\n\n") {}  // not explicit: `{}` works where a codec is expected
  explicit header_body(std::string_view delimiter, std::string_view length_field = "Content-length")
      : header_(delimiter), length_field_(length_field) {}

  const std::string& delimiter() const noexcept { return header_.delimiter(); }
  const std::string& length_field() const noexcept { return length_field_; }

  decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) noexcept {
    if (!body_offset_) {
      // The delimiter codec keeps its own scan position while the header trickles in.
      const auto h = header_.decode(buffered, max_frame);
      if (h.status != decode_status::complete) return h;
      const std::string_view header(reinterpret_cast<const char*>(buffered.data()), h.payload_size);
      std::size_t body = 0;
      if (auto value = header_field(header, length_field_)) {
        auto n = howdy::detail::parse_header_length(*value);
        if (!n) return decode_result::malformed();
        body = *n;
      }
      // h.frame_size <= max_frame: the delimiter codec only finds headers that fit.
      if (body > max_frame - h.frame_size) return decode_result::too_large();
      // Remembered so that a body arriving in pieces does not make us parse the header again.
      body_offset_ = h.frame_size;
      body_size_ = body;
    }
    const std::size_t size = *body_offset_ + body_size_;
    if (buffered.size() < size) return decode_result::need_more();
    const auto r = decode_result::complete(size, *body_offset_, body_size_);
    body_offset_.reset();
    return r;
  }

 private:
  delimited header_;
  std::string length_field_;
  std::optional<std::size_t> body_offset_;  // set once the current frame's header is parsed
  std::size_t body_size_ = 0;
};

}  // namespace howdy::codec
