// Where an outbox writes: a stream behind a small virtual interface, so the
// outbox is not a template of its stream. On a TCP socket a write is one
// sendmsg() of up to IOV_MAX buffers, tried at once; other streams use
// asio::async_write. Completions run on the outbox's executor.
#pragma once

#include <asio/basic_stream_socket.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <span>
#include <system_error>
#include <vector>

namespace howdy::detail {

inline constexpr std::size_t max_iov = 1024;  // IOV_MAX on Linux

template <class T>
inline constexpr bool is_stream_socket = false;
template <class Protocol, class Executor>
inline constexpr bool is_stream_socket<asio::basic_stream_socket<Protocol, Executor>> = true;

class outbox_sink {
 public:
  using callback = std::function<void(std::error_code, std::size_t)>;
  virtual ~outbox_sink() = default;
  // Writes what can be written without waiting; 0 bytes and no error means
  // "would block" (or that this stream has no such path).
  virtual std::size_t write_now(std::span<const ::iovec> iov, std::error_code& ec) = 0;
  // Sockets: calls back (with 0 bytes) once the socket is writable again.
  // Other streams: writes all of `iov` and calls back with the bytes written.
  virtual void async_write(std::span<const ::iovec> iov, callback done) = 0;
  virtual void close() = 0;
};

template <class Stream, class Executor>
class stream_sink final : public outbox_sink {
 public:
  stream_sink(Stream& s, const Executor& ex) : stream_(s), ex_(ex) {}

  std::size_t write_now(std::span<const ::iovec> iov, std::error_code& ec) override {
    if constexpr (is_stream_socket<Stream>) {
      if (!stream_.non_blocking()) {
        stream_.non_blocking(true, ec);
        if (ec) return 0;
      }
      ::msghdr msg{};
      msg.msg_iov = const_cast<::iovec*>(iov.data());
      msg.msg_iovlen = std::min(iov.size(), max_iov);
      for (;;) {
        const ::ssize_t n = ::sendmsg(stream_.native_handle(), &msg, MSG_NOSIGNAL);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        // Asio's category, so that `ec == asio::error::broken_pipe` holds.
        if (errno != EAGAIN && errno != EWOULDBLOCK) ec = std::error_code(errno, asio::error::get_system_category());
        return 0;
      }
    } else {
      (void)iov;
      (void)ec;
      return 0;
    }
  }

  void async_write(std::span<const ::iovec> iov, callback done) override {
    if constexpr (is_stream_socket<Stream>) {
      (void)iov;
      stream_.async_wait(Stream::wait_write,
                         asio::bind_executor(ex_, [done = std::move(done)](std::error_code ec) { done(ec, 0); }));
    } else {
      buffers_.clear();
      for (const auto& v : iov) buffers_.emplace_back(v.iov_base, v.iov_len);
      asio::async_write(stream_, buffers_, asio::bind_executor(ex_, std::move(done)));
    }
  }

  void close() override {
    if constexpr (requires(std::error_code& ec) { stream_.close(ec); }) {
      std::error_code ignored;
      stream_.close(ignored);
    }
  }

 private:
  Stream& stream_;
  Executor ex_;
  std::vector<asio::const_buffer> buffers_;  // other streams: the batch being written
};

}  // namespace howdy::detail
