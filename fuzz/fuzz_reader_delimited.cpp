// howdy::framed_reader with howdy::codec::delimited: every frame ends at the
// first delimiter after its start, whatever the delimiter (some overlap
// themselves, which a resumed search must not miss) and however the stream is cut.
#include <array>
#include <cstddef>
#include <cstdint>
#include <howdy/codec/delimited.hpp>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

constexpr std::array<std::string_view, 8> delimiters{"\n", "\n\n", "\r\n", "\r\n\r\n", "aab", "abab", "\n\n\n", "\0"};
constexpr std::array<std::size_t, 8> max_frames{1, 2, 3, 4, 5, 16, 100, 65536};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace howdy_fuzz;
  auto in = split(data, size);
  if (!in) return 0;
  // "\0" as a one-byte delimiter, not an empty one.
  const std::string_view delimiter = in->variant == 7 ? std::string_view("\0", 1) : delimiters[in->variant];
  in->options.max_frame_size = max_frames[in->max_frame_index];

  read_and_compare(*in, howdy::codec::delimited(delimiter), true, [&](const howdy::frame& f, std::size_t) {
    const auto bytes = as_chars(f.bytes);
    FUZZ_CHECK(f.payload.data() == f.bytes.data());
    FUZZ_CHECK(f.payload.size() + delimiter.size() == f.bytes.size());
    FUZZ_CHECK(bytes.ends_with(delimiter));
    FUZZ_CHECK(bytes.find(delimiter) == f.payload.size());  // the first one ends the frame
  });
  return 0;
}
