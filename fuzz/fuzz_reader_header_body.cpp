// howdy::framed_reader with howdy::codec::header_body: every frame is a header
// up to the first delimiter, then exactly the body its length field gives (none
// without one); a frame whose field is not a length never comes out.
#include <array>
#include <cstddef>
#include <cstdint>
#include <howdy/codec/header_body.hpp>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

constexpr std::array<std::string_view, 4> delimiters{"\n\n", "\r\n\r\n", "\n", "\n\n"};
constexpr std::array<std::string_view, 2> fields{"Content-length", "L"};
constexpr std::array<std::size_t, 8> max_frames{1, 2, 3, 20, 21, 64, 1000, 65536};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace howdy_fuzz;
  auto in = split(data, size);
  if (!in) return 0;
  const std::string_view delimiter = delimiters[in->variant & 3];
  const std::string_view field = fields[in->variant >> 2 & 1];
  in->options.max_frame_size = max_frames[in->max_frame_index];

  read_and_compare(*in, howdy::codec::header_body(delimiter, field), true, [&](const howdy::frame& f, std::size_t) {
    const auto bytes = as_chars(f.bytes);
    const std::size_t body_at = f.bytes.size() - f.payload.size();
    FUZZ_CHECK(f.payload.empty() || f.payload.data() == f.bytes.data() + body_at);
    FUZZ_CHECK(body_at >= delimiter.size());
    const auto header = bytes.substr(0, body_at - delimiter.size());
    FUZZ_CHECK(bytes.substr(header.size(), delimiter.size()) == delimiter);
    FUZZ_CHECK(bytes.find(delimiter) == header.size());  // the first delimiter ends the header
    const auto value = howdy::codec::header_field(header, field);
    if (value) {
      const auto length = howdy::detail::parse_header_length(*value);
      FUZZ_CHECK(length && *length == f.payload.size());
    } else {
      FUZZ_CHECK(f.payload.empty());
    }
  });
  return 0;
}
