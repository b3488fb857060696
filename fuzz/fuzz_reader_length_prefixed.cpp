// howdy::framed_reader with howdy::codec::length_prefixed (u16 and u32): every
// frame is its length field and exactly the payload that field gives.
#include <array>
#include <cstddef>
#include <cstdint>
#include <howdy/codec/length_prefixed.hpp>

#include "fuzz_support.hpp"

namespace {

constexpr std::array<std::size_t, 8> max_frames{1, 2, 4, 5, 6, 64, 65537, 65540};

template <class Codec>
void run(const howdy_fuzz::input& in) {
  using namespace howdy_fuzz;
  read_and_compare(in, Codec{}, true, [&](const howdy::frame& f, std::size_t) {
    std::uint64_t length = 0;
    FUZZ_CHECK(f.bytes.size() >= Codec::header_size);
    for (std::size_t i = 0; i < Codec::header_size; ++i)
      length = length << 8 | std::to_integer<std::uint64_t>(f.bytes[i]);
    FUZZ_CHECK(length == f.payload.size());
    FUZZ_CHECK(f.payload.empty() || f.payload.data() == f.bytes.data() + Codec::header_size);
    FUZZ_CHECK(f.bytes.size() == Codec::header_size + f.payload.size());
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto in = howdy_fuzz::split(data, size);
  if (!in) return 0;
  in->options.max_frame_size = max_frames[in->max_frame_index];
  if (in->flag)
    run<howdy::codec::u32_length_prefixed>(*in);
  else
    run<howdy::codec::u16_length_prefixed>(*in);
  return 0;
}
