// In-memory streams for the tests: a read stream whose reads return scripted
// chunks, and a write stream that records what each write was given.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace howdy_test {

// An AsyncReadStream. Each async_read_some returns the next scripted chunk (or
// as much of it as fits the buffer; the rest comes with the next read), or EOF
// once the script reaches eof(); a read with nothing scripted waits until
// chunk() or eof() is called. Completions always go through asio::post.
//
// It has no available(), so a framed_reader takes it as idle between chunks;
// with `report_available` it has one that counts every byte still scripted
// (as if all of it were already in the kernel's receive buffer).
class scripted_stream {
 public:
  using executor_type = asio::any_io_executor;

  explicit scripted_stream(executor_type ex) : ex_(std::move(ex)) {}

  executor_type get_executor() const noexcept { return ex_; }

  scripted_stream& chunk(std::string_view bytes) {
    if (!bytes.empty()) script_.emplace_back(bytes);
    serve();
    return *this;
  }
  scripted_stream& eof() {
    script_.emplace_back(std::nullopt);
    serve();
    return *this;
  }

  std::size_t read_calls() const noexcept { return reads_; }
  bool read_pending() const noexcept { return static_cast<bool>(pending_); }
  std::size_t bytes_served() const noexcept { return served_; }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return asio::async_initiate<ReadToken, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          ++reads_;
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          pending_ = [this, h, bufs]() {
            std::error_code ec;
            std::size_t n = 0;
            auto& next = script_.front();
            if (!next) {
              ec = asio::error::eof;  // stays at the front: every later read sees EOF too
            } else {
              n = asio::buffer_copy(bufs, asio::buffer(*next));
              served_ += n;
              next->erase(0, n);
              if (next->empty()) script_.pop_front();
            }
            auto ex = asio::get_associated_executor(*h, ex_);
            asio::post(ex, [h, ec, n]() mutable { std::move(*h)(ec, n); });
          };
          serve();
        },
        token, buffers);
  }

 protected:
  std::size_t scripted_bytes() const noexcept {
    std::size_t n = 0;
    for (auto& c : script_)
      if (c) n += c->size();
    return n;
  }

 private:
  void serve() {
    if (!pending_ || script_.empty()) return;
    auto op = std::exchange(pending_, nullptr);
    op();
  }

  executor_type ex_;
  std::deque<std::optional<std::string>> script_;  // nullopt: EOF
  std::function<void()> pending_;
  std::size_t reads_ = 0;
  std::size_t served_ = 0;
};

// The same, with available(): every scripted byte counts as already received.
class scripted_stream_with_available : public scripted_stream {
 public:
  using scripted_stream::scripted_stream;
  std::size_t available(std::error_code& ec) const {
    ec.clear();
    return scripted_bytes();
  }
};

// An AsyncWriteStream that accepts everything and records, per write call,
// the buffers it was given (where their bytes were, how many).
class recording_stream {
 public:
  using executor_type = asio::any_io_executor;

  struct piece {
    const void* data;
    std::size_t size;
  };

  explicit recording_stream(executor_type ex) : ex_(std::move(ex)) {}
  executor_type get_executor() const noexcept { return ex_; }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return asio::async_initiate<WriteToken, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          std::vector<piece> call;
          std::size_t n = 0;
          for (auto it = asio::buffer_sequence_begin(bufs); it != asio::buffer_sequence_end(bufs); ++it) {
            asio::const_buffer b(*it);
            if (b.size() == 0) continue;
            call.push_back({b.data(), b.size()});
            bytes_.append(static_cast<const char*>(b.data()), b.size());
            n += b.size();
          }
          writes_.push_back(std::move(call));
          auto ex = asio::get_associated_executor(handler, ex_);
          asio::post(ex, [h = std::move(handler), n]() mutable { std::move(h)(std::error_code{}, n); });
        },
        token, buffers);
  }

  const std::vector<std::vector<piece>>& writes() const noexcept { return writes_; }
  const std::string& bytes() const noexcept { return bytes_; }

 private:
  executor_type ex_;
  std::vector<std::vector<piece>> writes_;
  std::string bytes_;
};

// An AsyncWriteStream whose writes wait until accept(): a peer that reads only
// when the test says so. Each write call is recorded (its bytes) when accepted.
class gated_stream {
 public:
  using executor_type = asio::any_io_executor;

  explicit gated_stream(executor_type ex) : ex_(std::move(ex)) {}
  executor_type get_executor() const noexcept { return ex_; }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return asio::async_initiate<WriteToken, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          if (pending_) throw std::logic_error("gated_stream: one write at a time");
          std::string call;
          for (auto it = asio::buffer_sequence_begin(bufs); it != asio::buffer_sequence_end(bufs); ++it) {
            asio::const_buffer b(*it);
            call.append(static_cast<const char*>(b.data()), b.size());
          }
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          pending_bytes_ = std::move(call);
          pending_ = [this, h, n = pending_bytes_.size()] {
            auto ex = asio::get_associated_executor(*h, ex_);
            asio::post(ex, [h, n]() mutable { std::move(*h)(std::error_code{}, n); });
          };
        },
        token, buffers);
  }

  bool write_pending() const noexcept { return static_cast<bool>(pending_); }
  // Completes the pending write (all of it); false if none was pending.
  bool accept() {
    if (!pending_) return false;
    writes_.push_back(std::move(pending_bytes_));
    std::exchange(pending_, nullptr)();
    return true;
  }
  // The bytes of each accepted write call.
  const std::vector<std::string>& writes() const noexcept { return writes_; }

 private:
  executor_type ex_;
  std::function<void()> pending_;
  std::string pending_bytes_;
  std::vector<std::string> writes_;
};

// Runs `ctx` until `done()` or `limit`: a hung test fails instead of hanging.
template <class Pred>
bool run_until(asio::io_context& ctx, Pred done, std::chrono::steady_clock::duration limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ctx.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) ctx.run_one_until(deadline);
  return done();
}

}  // namespace howdy_test
