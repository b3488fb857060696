// An immutable, reference-counted byte buffer: a message is encoded once and the
// same bytes are queued in every recipient's outbox (no copy per recipient).
#pragma once

#include <asio/buffer.hpp>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <string_view>
#include <utility>

namespace howdy {

class shared_buffer {
 public:
  shared_buffer() noexcept = default;

  // Allocates `size` bytes and lets `fill(std::span<std::byte>)` write them, once.
  template <class Fill>
  static shared_buffer make(std::size_t size, Fill&& fill) {
    shared_buffer b(allocate(size));
    std::forward<Fill>(fill)(std::span<std::byte>(b.block_->bytes(), size));
    return b;
  }

  static shared_buffer copy_of(std::span<const std::byte> bytes) {
    return make(bytes.size(), [&](std::span<std::byte> out) {
      if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    });
  }

  static shared_buffer copy_of(std::string_view text) {
    return copy_of(std::as_bytes(std::span(text.data(), text.size())));
  }

  shared_buffer(const shared_buffer& other) noexcept : block_(other.block_) { retain(); }
  shared_buffer(shared_buffer&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  shared_buffer& operator=(shared_buffer other) noexcept {
    std::swap(block_, other.block_);
    return *this;
  }
  ~shared_buffer() { release(); }

  const std::byte* data() const noexcept { return block_ ? block_->bytes() : nullptr; }
  std::size_t size() const noexcept { return block_ ? block_->size : 0; }
  bool empty() const noexcept { return size() == 0; }
  std::span<const std::byte> bytes() const noexcept { return {data(), size()}; }
  asio::const_buffer buffer() const noexcept { return {data(), size()}; }
  explicit operator bool() const noexcept { return block_ != nullptr; }

 private:
  // One allocation holds the count, the size and the bytes.
  struct block {
    std::atomic<std::size_t> refs{1};
    std::size_t size = 0;
    std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  };

  explicit shared_buffer(block* b) noexcept : block_(b) {}

  static block* allocate(std::size_t size) {
    void* raw = ::operator new(sizeof(block) + size);
    auto* b = new (raw) block;
    b->size = size;
    return b;
  }

  void retain() noexcept {
    if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }

  void release() noexcept {
    if (block_ && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      block_->~block();
      ::operator delete(block_);
    }
    block_ = nullptr;
  }

  block* block_ = nullptr;
};

}  // namespace howdy
