#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace cafcache {

/// A FIFO queue on a ring of slots that are reused: once it has grown to
/// the largest number of elements it held, pushing and popping allocate
/// nothing. A connection keeps each request it sent Redis in one until the
/// reply comes; `std::deque` allocates and frees a block per request when
/// elements are as large as those (over 256 bytes).
///
/// Slots not in use hold a default element: popping resets the slot, so
/// nothing an element owned outlives it.
template <class T>
class ring_queue {
public:
  bool empty() const noexcept {
    return size_ == 0;
  }

  size_t size() const noexcept {
    return size_;
  }

  T& front() noexcept {
    return slots_[head_];
  }

  /// Appends a default element and returns it.
  T& emplace_back() {
    if (size_ == slots_.size())
      grow();
    return slots_[index(size_++)];
  }

  void push_back(T&& x) {
    emplace_back() = std::move(x);
  }

  void pop_front() {
    slots_[head_] = T{};
    head_ = index(1);
    --size_;
  }

  void clear() {
    while (!empty())
      pop_front();
    head_ = 0;
  }

  /// Calls `f` with each element, oldest first.
  template <class F>
  void for_each(F f) {
    for (size_t i = 0; i < size_; ++i)
      f(slots_[index(i)]);
  }

private:
  size_t index(size_t offset) const noexcept {
    return (head_ + offset) % slots_.size();
  }

  void grow() {
    std::vector<T> next(slots_.empty() ? 16 : slots_.size() * 2);
    for (size_t i = 0; i < size_; ++i)
      next[i] = std::move(slots_[index(i)]);
    slots_.swap(next);
    head_ = 0;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

} // namespace cafcache
