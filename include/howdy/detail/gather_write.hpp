// Writes a sequence of buffers with as few system calls as possible. On a TCP
// socket that is one sendmsg() of up to IOV_MAX buffers (Asio's own composed
// write stops at 16 per call); other streams use asio::async_write.
#pragma once

#include <asio/experimental/as_tuple.hpp>
#include <asio/basic_stream_socket.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <system_error>
#include <tuple>
#include <vector>

namespace howdy::detail {

template <class T>
inline constexpr bool is_stream_socket = false;
template <class Protocol, class Executor>
inline constexpr bool is_stream_socket<asio::basic_stream_socket<Protocol, Executor>> = true;

inline constexpr std::size_t max_iov = 1024;  // IOV_MAX on Linux

struct gather_result {
  std::error_code ec;
  std::size_t bytes = 0;
  std::size_t calls = 0;  // write system calls (or write operations) it took
};

// Writes every buffer of `scratch` (which it consumes: entries are advanced as
// bytes go out).
template <class Stream>
asio::awaitable<gather_result> async_gather_write(Stream& stream, std::vector<::iovec>& scratch) {
  gather_result result;
  if constexpr (is_stream_socket<Stream>) {
    if (!stream.non_blocking()) {
      stream.non_blocking(true, result.ec);
      if (result.ec) co_return result;
    }
    std::size_t next = 0;
    while (next < scratch.size()) {
      ::msghdr msg{};
      msg.msg_iov = scratch.data() + next;
      msg.msg_iovlen = std::min(scratch.size() - next, max_iov);
      const ::ssize_t n = ::sendmsg(stream.native_handle(), &msg, MSG_NOSIGNAL);
      ++result.calls;
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          auto [ec] = co_await stream.async_wait(Stream::wait_write, asio::experimental::as_tuple(asio::use_awaitable));
          if (ec) {
            result.ec = ec;
            co_return result;
          }
          continue;
        }
        result.ec = std::error_code(errno, std::system_category());
        co_return result;
      }
      result.bytes += static_cast<std::size_t>(n);
      for (std::size_t left = static_cast<std::size_t>(n); left > 0 && next < scratch.size();) {
        auto& v = scratch[next];
        if (left >= v.iov_len) {
          left -= v.iov_len;
          ++next;
        } else {
          v.iov_base = static_cast<char*>(v.iov_base) + left;
          v.iov_len -= left;
          left = 0;
        }
      }
      while (next < scratch.size() && scratch[next].iov_len == 0) ++next;
    }
  } else {
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(scratch.size());
    for (const auto& v : scratch) buffers.emplace_back(v.iov_base, v.iov_len);
    auto [ec, n] = co_await asio::async_write(stream, buffers, asio::experimental::as_tuple(asio::use_awaitable));
    result.ec = ec;
    result.bytes = n;
    result.calls = 1;
  }
  co_return result;
}

}  // namespace howdy::detail
