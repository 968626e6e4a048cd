#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <utility>

namespace cafcache {

/// Deadlines of in-flight operations, owned by one actor.
///
/// CAF 0.17 gives every request with a timeout its own entry in the actor
/// clock, a tree behind a mutex served by a separate thread; at 100k requests
/// per second that clock becomes the bottleneck. This queue keeps deadlines
/// inside the actor instead, driven by one periodic tick. Most operations use
/// the same timeout, so their deadlines arrive in order and go to a FIFO
/// (O(1)); an earlier deadline than the last one goes to an ordered map.
/// Entries hold weak pointers: an operation that finished early simply fails
/// to lock when its deadline comes.
template <class T>
class deadline_queue {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Registers `item` to expire at `at`.
  void push(time_point at, std::weak_ptr<T> item) {
    if (fifo_.empty() || fifo_.back().first <= at)
      fifo_.emplace_back(at, std::move(item));
    else
      sorted_.emplace(at, std::move(item));
  }

  /// Calls `f(shared_ptr<T>)` for every live item whose deadline is at or
  /// before `now`, earliest first, and forgets them. Returns how many expired.
  template <class F>
  size_t expire(time_point now, F&& f) {
    size_t n = 0;
    for (;;) {
      bool from_fifo = !fifo_.empty() && fifo_.front().first <= now;
      bool from_sorted = !sorted_.empty() && sorted_.begin()->first <= now;
      if (!from_fifo && !from_sorted)
        return n;
      if (from_fifo && from_sorted)
        from_fifo = fifo_.front().first <= sorted_.begin()->first;
      std::weak_ptr<T> item;
      if (from_fifo) {
        item = std::move(fifo_.front().second);
        fifo_.pop_front();
      } else {
        item = std::move(sorted_.begin()->second);
        sorted_.erase(sorted_.begin());
      }
      if (auto ptr = item.lock()) {
        ++n;
        f(std::move(ptr));
      }
    }
  }

  /// True when nothing is registered.
  bool empty() const {
    return fifo_.empty() && sorted_.empty();
  }

  /// Registered entries, live or not.
  size_t size() const {
    return fifo_.size() + sorted_.size();
  }

private:
  std::deque<std::pair<time_point, std::weak_ptr<T>>> fifo_;
  std::multimap<time_point, std::weak_ptr<T>> sorted_;
};

} // namespace cafcache
