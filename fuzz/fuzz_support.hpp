// What the fuzz targets share: the layout of an input (a 4-byte header that
// picks the reader's options and how the stream is cut, then the stream), an
// in-memory AsyncReadStream that serves the stream in chunks, a driver that
// reads every frame out of it with howdy::framed_reader and checks what holds
// for every codec, and a reference decoder to compare the reader against.
//
// Input: b0 = availability (bits 0-1), try_next after each frame (bit 2),
// target variant (bits 3-5), initial buffer size (bits 6-7); b1 = max frame
// (bits 0-2, from the target's table), largest chunk (bits 3-4), largest read
// (bits 5-6), target flag (bit 7); b2 b3 = seed of the chunk sizes; the rest is
// the byte stream.
#pragma once

#include <algorithm>
#include <array>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <howdy/error.hpp>
#include <howdy/frame_codec.hpp>
#include <howdy/framed_reader.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// A broken invariant: reported like a crash, with where and what.
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

namespace howdy_fuzz {

using bytes_view = std::span<const std::byte>;

inline bytes_view as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}
inline std::string_view as_chars(bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
inline bytes_view as_bytes(std::string_view s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

// True when `inner` lies within `outer` (an empty view anywhere counts).
inline bool within(std::string_view inner, std::string_view outer) {
  if (inner.empty()) return true;
  return std::less_equal<>{}(outer.data(), inner.data()) &&
         std::less_equal<>{}(inner.data() + inner.size(), outer.data() + outer.size());
}
inline bool within(bytes_view inner, bytes_view outer) { return within(as_chars(inner), as_chars(outer)); }

// How much the stream reports as already received (its available()).
enum class availability {
  none,   // no available(): every pause between reads looks idle
  chunk,  // the rest of the current chunk, as a socket does for one segment
  all,    // everything not yet read: the reader sees the stream as if it had it whole
};

struct input {
  availability avail = availability::none;
  bool use_try_next = false;
  unsigned variant = 0;  // 0..7, the target's choice
  bool flag = false;     // the target's choice
  std::size_t max_frame_index = 0;
  howdy::reader_options options;
  std::size_t max_chunk = 1;
  std::uint32_t seed = 0;
  bytes_view stream;
};

// nullopt for inputs too short to have the header.
inline std::optional<input> split(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return std::nullopt;
  constexpr std::array<std::size_t, 4> initial{1, 16, 512, 4096};
  constexpr std::array<std::size_t, 4> chunk{1, 7, 100, 65536};
  constexpr std::array<std::size_t, 4> read{1, 64, 4096, 65536};
  input in;
  const unsigned b0 = data[0];
  const unsigned b1 = data[1];
  in.avail = (b0 & 3) == 0 ? availability::none : (b0 & 3) == 1 ? availability::chunk : availability::all;
  in.use_try_next = (b0 >> 2 & 1) != 0;
  in.variant = b0 >> 3 & 7;
  in.options.initial_buffer_size = initial[b0 >> 6 & 3];
  in.max_frame_index = b1 & 7;
  in.max_chunk = chunk[b1 >> 3 & 3];
  in.options.max_read_size = read[b1 >> 5 & 3];
  in.flag = (b1 >> 7) != 0;
  in.seed = static_cast<std::uint32_t>(data[2]) << 8 | data[3];
  in.stream = as_bytes(data + 4, size - 4);
  return in;
}

// An AsyncReadStream over bytes in memory: each read returns at most the rest
// of the current chunk (sizes drawn from the seed), then EOF. Completions go
// through asio::post, as a socket's do.
template <availability Avail>
class chunked_stream {
 public:
  using executor_type = asio::io_context::executor_type;

  chunked_stream(executor_type ex, bytes_view data, std::size_t max_chunk, std::uint32_t seed)
      : ex_(ex), data_(data), max_chunk_(std::max<std::size_t>(max_chunk, 1)), state_(seed * 2654435761u + 1) {}

  executor_type get_executor() const noexcept { return ex_; }
  std::size_t read_calls() const noexcept { return reads_; }
  std::size_t position() const noexcept { return pos_; }

  std::size_t available(std::error_code& ec) const requires(Avail != availability::none) {
    ec.clear();
    return Avail == availability::all ? data_.size() - pos_ : chunk_left_;
  }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return asio::async_initiate<ReadToken, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          ++reads_;
          std::error_code ec;
          std::size_t n = 0;
          if (pos_ == data_.size()) {
            ec = asio::error::eof;
          } else if (asio::buffer_size(bufs) != 0) {
            if (chunk_left_ == 0) chunk_left_ = std::min(next_chunk(), data_.size() - pos_);
            n = asio::buffer_copy(bufs, asio::buffer(data_.data() + pos_, chunk_left_));
            pos_ += n;
            chunk_left_ -= n;
          }
          asio::post(ex_, [h = std::move(handler), ec, n]() mutable { std::move(h)(ec, n); });
        },
        token, buffers);
  }

 private:
  std::size_t next_chunk() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return 1 + state_ % max_chunk_;
  }

  executor_type ex_;
  bytes_view data_;
  std::size_t max_chunk_;
  std::uint32_t state_;
  std::size_t pos_ = 0;
  std::size_t chunk_left_ = 0;
  std::size_t reads_ = 0;
};

// A frame as a reader handed it out: where it is in the stream.
struct frame_record {
  std::size_t offset;  // of its first byte in the stream
  std::size_t size;
  std::size_t payload_offset;  // from the frame's first byte
  std::size_t payload_size;
  friend bool operator==(const frame_record&, const frame_record&) = default;
};

struct read_result {
  std::vector<frame_record> frames;
  std::error_code end;  // the error that ended the stream
};

// What a reader must produce when it sees the stream whole: the codec asked
// about the bytes from each frame's start to the end of the stream.
template <class Codec>
read_result reference_decode(Codec codec, bytes_view stream, std::size_t max_frame) {
  read_result out;
  std::size_t pos = 0;
  for (;;) {
    const auto r = codec.decode(stream.subspan(pos), max_frame);
    switch (r.status) {
      case howdy::decode_status::complete:
      case howdy::decode_status::ends_if_idle:
        out.frames.push_back({pos, r.frame_size, r.payload_offset, r.payload_size});
        FUZZ_CHECK(r.frame_size > 0 && r.frame_size <= stream.size() - pos);
        pos += r.frame_size;
        continue;
      case howdy::decode_status::need_more:
        out.end = pos == stream.size() ? howdy::error::end_of_stream : howdy::error::truncated_frame;
        return out;
      case howdy::decode_status::malformed:
        out.end = howdy::error::malformed_frame;
        return out;
      case howdy::decode_status::too_large:
        out.end = howdy::error::frame_too_large;
        return out;
    }
    FUZZ_CHECK(false);
  }
}

// Reads every frame of in.stream with a framed_reader over a chunked_stream,
// calling on_frame(frame, offset) for each, and checks what holds whatever the
// codec: each frame is the next bytes of the stream, nonempty and within the
// limit, its payload inside it; the stream ends with an error that matches
// where it stopped, and keeps it; the reader neither stalls nor spins.
template <availability Avail, class Codec, class OnFrame>
read_result read_all(const input& in, Codec codec, OnFrame&& on_frame) {
  asio::io_context ctx;
  chunked_stream<Avail> stream(ctx.get_executor(), in.stream, in.max_chunk, in.seed);
  howdy::framed_reader<chunked_stream<Avail>, Codec> reader(stream, std::move(codec), in.options);
  const auto& options = reader.options();
  read_result out;
  std::size_t offset = 0;
  bool done = false;

  auto take = [&](const howdy::frame& f) {
    FUZZ_CHECK(!f.bytes.empty());
    FUZZ_CHECK(f.bytes.size() <= options.max_frame_size);
    FUZZ_CHECK(f.bytes.size() <= in.stream.size() - offset);
    FUZZ_CHECK(std::memcmp(f.bytes.data(), in.stream.data() + offset, f.bytes.size()) == 0);
    FUZZ_CHECK(within(f.payload, f.bytes));
    FUZZ_CHECK(offset + f.bytes.size() <= stream.position());
    // The reader points even an empty payload at where it starts in the frame.
    FUZZ_CHECK(std::less_equal<>{}(f.bytes.data(), f.payload.data()) &&
               std::less_equal<>{}(f.payload.data() + f.payload.size(), f.bytes.data() + f.bytes.size()));
    const std::size_t payload_offset = std::size_t(f.payload.data() - f.bytes.data());
    out.frames.push_back({offset, f.bytes.size(), payload_offset, f.payload.size()});
    on_frame(f, offset);
    offset += f.bytes.size();
  };
  auto finish = [&](std::error_code ec) {
    FUZZ_CHECK(ec);
    out.end = ec;
    done = true;
  };

  std::function<void()> next = [&] {
    reader.async_next([&](std::error_code ec, howdy::frame f) {
      if (ec) return finish(ec);
      take(f);
      if (in.use_try_next) {
        for (;;) {
          std::error_code e;
          auto g = reader.try_next(e);
          if (e) return finish(e);
          if (!g) break;
          take(*g);
        }
      }
      next();
    });
  };
  next();
  ctx.run();
  FUZZ_CHECK(done);  // the reader waits for nothing: the stream always answers

  const std::size_t limit = std::max(options.max_frame_size + 1, options.max_read_size);
  FUZZ_CHECK(reader.buffer_capacity() <= std::max(limit, options.initial_buffer_size));
  FUZZ_CHECK(stream.read_calls() <= in.stream.size() + 2);
  if (out.end == howdy::error::end_of_stream) {
    FUZZ_CHECK(offset == in.stream.size());
  } else if (out.end == howdy::error::truncated_frame || out.end == howdy::error::malformed_frame ||
             out.end == howdy::error::frame_too_large) {
    FUZZ_CHECK(offset < in.stream.size());
  } else {
    FUZZ_CHECK(!"an error the reader should not report on an in-memory stream");
  }
  if (out.end == howdy::error::truncated_frame) FUZZ_CHECK(stream.position() == in.stream.size());

  // After an error, every later call fails with the same error.
  std::error_code again;
  FUZZ_CHECK(!reader.try_next(again));
  FUZZ_CHECK(again == out.end);
  bool repeated = false;
  reader.async_next([&](std::error_code ec, howdy::frame) {
    FUZZ_CHECK(ec == out.end);
    repeated = true;
  });
  ctx.restart();
  ctx.run();
  FUZZ_CHECK(repeated);
  return out;
}

// read_all for the input's availability, and, where the reader sees the stream
// whole (availability::all) or the codec never answers ends_if_idle (so how the
// stream is cut cannot matter), the same frames and end as reference_decode.
template <class Codec, class OnFrame>
read_result read_and_compare(const input& in, const Codec& codec, bool chunking_neutral, OnFrame&& on_frame) {
  read_result got;
  switch (in.avail) {
    case availability::none:
      got = read_all<availability::none>(in, codec, on_frame);
      break;
    case availability::chunk:
      got = read_all<availability::chunk>(in, codec, on_frame);
      break;
    case availability::all:
      got = read_all<availability::all>(in, codec, on_frame);
      break;
  }
  if (chunking_neutral || in.avail == availability::all) {
    const auto want = reference_decode(codec, in.stream, in.options.max_frame_size);
    FUZZ_CHECK(got.frames == want.frames);
    FUZZ_CHECK(got.end == want.end);
  }
  return got;
}

}  // namespace howdy_fuzz
