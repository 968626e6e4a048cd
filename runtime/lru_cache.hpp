#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cafcache {

/// A bounded map from key to value that evicts the least recently used entry
/// first and drops entries once their expiry time passed. The byte bound
/// counts payload only (key plus value bytes), not bookkeeping, so that it is
/// predictable for users; bookkeeping adds roughly a hundred bytes per entry.
/// Not thread-safe: meant to be owned by a single actor.
class lru_cache {
public:
  // -- member types -----------------------------------------------------------

  /// Monotonic, so that wall-clock jumps cannot expire or revive entries.
  using clock = std::chrono::steady_clock;

  /// Point in time on `clock`.
  using time_point = clock::time_point;

  // -- constructors -----------------------------------------------------------

  /// Creates an empty cache holding at most `max_entries` entries and at most
  /// `max_bytes` bytes of keys plus values.
  lru_cache(size_t max_entries, size_t max_bytes);

  // The index points into list nodes, so copies would dangle.
  lru_cache(const lru_cache&) = delete;
  lru_cache& operator=(const lru_cache&) = delete;

  // -- observers --------------------------------------------------------------

  /// Returns the value for `key` without touching recency or erasing expired
  /// entries, or nullptr when absent or expired at `now`.
  const std::string* peek(std::string_view key, time_point now) const;

  /// Returns the number of entries, including expired ones not yet removed.
  size_t size() const noexcept {
    return entries_.size();
  }

  /// Returns the sum of key.size() + value.size() over all entries.
  size_t bytes() const noexcept {
    return bytes_;
  }

  /// Returns the entry bound.
  size_t max_entries() const noexcept {
    return max_entries_;
  }

  /// Returns the byte bound (keys plus values).
  size_t max_bytes() const noexcept {
    return max_bytes_;
  }

  /// Returns how many live entries were dropped to make room.
  uint64_t evictions() const noexcept {
    return evictions_;
  }

  /// Returns how many entries were dropped because their expiry time passed.
  uint64_t expirations() const noexcept {
    return expirations_;
  }

  // -- modifiers --------------------------------------------------------------

  /// Returns the value for `key` and marks it most recently used, or nullptr
  /// when absent or expired at `now` (an expired entry is erased and counted
  /// in expirations()).
  const std::string* get(std::string_view key, time_point now);

  /// Inserts or replaces the entry for `key` as most recently used and evicts
  /// least recently used entries until both bounds hold; `expires` equal to
  /// time_point::max() means no TTL. Returns false and erases any old entry
  /// for `key` when the entry alone cannot fit (a stale value would be worse
  /// than none).
  bool put(std::string key, std::string value, time_point expires,
           time_point now);

  /// Removes the entry for `key`; returns true if there was one.
  bool erase(std::string_view key);

  /// Removes every entry expired at `now`; returns how many.
  size_t purge_expired(time_point now);

  /// Removes every entry without counting evictions or expirations.
  void clear();

private:
  // -- member types -----------------------------------------------------------

  struct entry {
    std::string key;
    std::string value;
    time_point expires;
  };

  using entry_list = std::list<entry>;

  // -- utility ----------------------------------------------------------------

  static bool expired(const entry& x, time_point now) noexcept {
    return now >= x.expires;
  }

  static size_t payload(const entry& x) noexcept {
    return x.key.size() + x.value.size();
  }

  void remove(entry_list::iterator pos);

  // -- member variables -------------------------------------------------------

  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t evictions_ = 0;
  uint64_t expirations_ = 0;

  /// Front is the most recently used entry.
  entry_list entries_;

  /// Views point into the key of a list node, whose address never changes.
  std::unordered_map<std::string_view, entry_list::iterator> index_;
};

} // namespace cafcache
