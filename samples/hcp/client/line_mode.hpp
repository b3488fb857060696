// howdy-client: line mode, for scripts and tests (stdin or stdout not a
// terminal). Each input line is handed to the session as typed, and each
// event is one line on stdout, flushed at once.
#pragma once

#include "view.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <pthread.h>
#include <unistd.h>

namespace hcp::client {

// Line mode output: each event on its own line, flushed at once so a reader
// on the other end of a pipe sees it as it happens.
// A line already printed cannot change: its update is printed as a new line.
class line_view final : public view {
 public:
  std::uint64_t show(std::string_view line) override {
    print(line);
    return ++lines_;
  }

  void update(std::uint64_t /*number*/, std::string_view line, bool /*notify*/) override {
    print(line);
    ++lines_;
  }

 private:
  static void print(std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  std::uint64_t lines_ = 0;
};

// Line mode input: a thread reads stdin with plain read(2) (works for pipes,
// terminals and regular files alike, which an asio descriptor does not) and
// posts each line to the io_context. The thread may still be blocked in read
// when the client is done; it is detached, and `close()` makes sure it never
// posts to an io_context that is gone.
class stdin_lines : public std::enable_shared_from_this<stdin_lines> {
 public:
  using line_handler = std::function<void(std::string)>;
  using end_handler = std::function<void()>;

  void start(asio::any_io_executor ex, line_handler on_line, end_handler on_end) {
    // The thread blocks every signal, so SIGINT/SIGTERM reach asio's handler
    // and never interrupt its read.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread([self = shared_from_this(), ex, on_line, on_end] { self->read_all(ex, on_line, on_end); }).detach();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }

 private:
  static constexpr std::size_t max_line = 1024 * 1024;  // a longer "line" is cut (and then refused as too long)

  void read_all(asio::any_io_executor ex, line_handler on_line, end_handler on_end) {
    std::string buffer;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
        if (!deliver(ex, [on_line, l = buffer.substr(start, nl - start)]() mutable { on_line(std::move(l)); })) return;
      buffer.erase(0, start);
      if (buffer.size() >= max_line) {
        if (!deliver(ex, [on_line, l = std::move(buffer)]() mutable { on_line(std::move(l)); })) return;
        buffer.clear();
      }
    }
    if (!buffer.empty())  // a last line without its newline
      if (!deliver(ex, [on_line, l = std::move(buffer)]() mutable { on_line(std::move(l)); })) return;
    deliver(ex, on_end);
  }

  template <class F>
  bool deliver(const asio::any_io_executor& ex, F&& f) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    asio::post(ex, std::forward<F>(f));
    return true;
  }

  std::mutex mutex_;
  bool closed_ = false;
};

}  // namespace hcp::client
