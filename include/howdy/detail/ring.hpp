// A growable ring of elements: FIFO without an allocation per element once it
// has reached its working size.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace howdy::detail {

template <class T>
class ring {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  T& front() noexcept { return slots_[head_]; }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    (*this)[size_++] = std::move(value);
  }

  void pop_front() noexcept {
    slots_[head_] = T{};
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }

  // Removes `count` elements starting at `offset`, keeping the order of the rest.
  void erase(std::size_t offset, std::size_t count) noexcept {
    for (std::size_t i = offset; i-- > 0;) (*this)[i + count] = std::move((*this)[i]);
    for (std::size_t i = 0; i < count; ++i) pop_front();
  }

  // Removes the element at `i`, moving the ones after it up: O(size - i).
  void erase_at(std::size_t i) noexcept {
    for (; i + 1 < size_; ++i) (*this)[i] = std::move((*this)[i + 1]);
    (*this)[--size_] = T{};
  }

  // Gives the storage back when empty and larger than `keep` slots, so that a
  // burst does not leave an idle connection holding its peak memory.
  void trim(std::size_t keep) noexcept {
    if (size_ == 0 && slots_.size() > keep) {
      std::vector<T>().swap(slots_);
      head_ = 0;
    }
  }

  // Removes every element from `offset` on.
  void truncate(std::size_t offset) noexcept {
    while (size_ > offset) (*this)[--size_] = T{};
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 8 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;  // size is a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace howdy::detail
