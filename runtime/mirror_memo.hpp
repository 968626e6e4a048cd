#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace cafcache {

/// What one connection sent the fallback lately: for each key it served, a
/// fingerprint of the value and when it was sent.
///
/// Every value a connection reads from Redis may be copied into the
/// fallback (stale-if-error); a hot key is read many times a second with the
/// same value, and copying it each time costs a message entry, a hash-table
/// lookup in the fallback and a string freed on another thread. A value
/// sent within `refresh` is not sent again. Skipping is always safe for
/// "never an older value": the fallback only gets fewer copies of what Redis
/// held, and erasures (a nil or foreign reply) are never skipped. What it
/// costs is freshness of the fallback's copy: an entry the fallback evicted
/// or dropped comes back at the next read after `refresh` at the latest.
///
/// Direct-mapped: a key has one of `slots` entries; a collision only costs a
/// copy sent again.
class mirror_memo {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Remembers up to `slots` keys (rounded up to a power of two; 0: off)
  /// for `refresh` each.
  explicit mirror_memo(size_t slots = 4096,
                       std::chrono::nanoseconds refresh
                       = std::chrono::seconds(1));

  /// True when `value` of `key` was sent at most `refresh` before `now`;
  /// otherwise records it as sent at `now` and returns false.
  bool sent_lately(std::string_view key, std::string_view value,
                   time_point now);

  /// Forgets `key`: a write or invalidation of it changes what the fallback
  /// holds.
  void forget(std::string_view key);

private:
  struct entry {
    uint64_t key = 0;
    uint64_t value = 0;
    /// Nanoseconds since the clock's epoch; 0: empty.
    int64_t sent = 0;
  };

  entry* find(std::string_view key, uint64_t& hash);

  std::vector<entry> entries_;
  uint64_t mask_ = 0;
  int64_t refresh_ = 0;
};

} // namespace cafcache
