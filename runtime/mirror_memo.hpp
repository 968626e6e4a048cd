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
/// Set-associative: a key has one set of `ways` entries, and a key new to a
/// full set takes the place of the one sent longest ago. Keys pushed out
/// only cost a copy sent again. (Direct-mapped, two keys read in turn that
/// share a slot push each other out at every read: with 5,000 keys in 16,384
/// slots, a quarter of the keys were copied at every read.)
class mirror_memo {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Entries of one set.
  static constexpr size_t ways = 4;

  /// Remembers up to `slots` keys (rounded up to a power of two, at least
  /// `ways`; 0: off) for `refresh` each.
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

  /// The first entry of the set of `hash`, or nullptr when off.
  entry* set_of(uint64_t hash);

  std::vector<entry> entries_;
  uint64_t mask_ = 0;
  int64_t refresh_ = 0;
};

} // namespace cafcache
