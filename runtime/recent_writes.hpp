#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "messages/types.hpp"

namespace cafcache {

/// The keys and tags this cache wrote to Redis within a recent window.
///
/// Redis may come back with an older dataset than the one that acknowledged
/// the writes: a restart from an AOF with `appendfsync everysec` or from an
/// RDB snapshot, or a replica promoted before it received the last writes.
/// The cache notices by the dataset's identity (`run_id` and replication id)
/// and then deletes, before it reads Redis again, every key it wrote within
/// the window; writes older than the window are assumed to have reached the
/// disk or the replicas. Past `max_entries` the log no longer names every
/// key: until a whole window has passed since then, `written_since` reports
/// it overflowed, and the cache flushes its namespace instead.
class recent_writes {
public:
  using time_point = std::chrono::steady_clock::time_point;

  recent_writes() = default;

  recent_writes(std::chrono::nanoseconds window, uint64_t max_entries)
    : window_(window), max_(max_entries) {
    // Nothing else to do.
  }

  /// `key` was sent to Redis at `now`.
  void key(const std::string& key, time_point now) {
    add(key, false, now);
  }

  /// An invalidation of `tag` was sent to Redis at `now`.
  void tag(const std::string& tag, time_point now) {
    add(tag, true, now);
  }

  /// Everything under the prefix was deleted at `now` (a namespace flush):
  /// an older dataset would bring back any of it.
  void everything(time_point now) {
    entries_.clear();
    overflowed_ = true;
    overflowed_at_ = now;
  }

  /// What was written within the window before `now`, each name once; the
  /// log keeps it (Redis may change its dataset again).
  dirty_batch written_since(time_point now);

  /// False when the window is zero: nothing is recorded.
  bool enabled() const noexcept {
    return window_.count() > 0;
  }

  /// Entries in the log.
  size_t size() const noexcept {
    return entries_.size();
  }

private:
  struct entry {
    time_point at;
    bool is_tag = false;
    std::string name;
  };

  void add(const std::string& name, bool is_tag, time_point now);

  void expire(time_point now);

  std::chrono::nanoseconds window_{0};
  uint64_t max_ = 0;
  std::deque<entry> entries_;
  /// The log overflowed at this time (time_point{} when it did not).
  time_point overflowed_at_{};
  bool overflowed_ = false;
};

} // namespace cafcache
