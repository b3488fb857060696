// How many bytes a stream has already received and not yet handed out, for
// the framed reader's `ends_if_idle` frames: such a frame ends where the peer
// stops sending, so the reader hands it out only when nothing more is waiting.
#pragma once

#include <cstddef>
#include <system_error>

namespace howdy::detail {

// The stream's available(ec) if it has one (Asio's sockets do), else 0: a
// stream that cannot tell is taken as idle. An error also counts as idle; the
// next read reports it.
template <class Stream>
std::size_t readable_now(Stream& stream) {
  if constexpr (requires(std::error_code& ec) { stream.available(ec); }) {
    std::error_code ec;
    const std::size_t n = stream.available(ec);
    return ec ? 0 : n;
  } else {
    return 0;
  }
}

}  // namespace howdy::detail
