#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cafcache {

/// A bounded map from key to value that evicts the least recently used entry
/// first and drops entries once their expiry time passed. The byte bound
/// counts payload only (key plus value bytes), not bookkeeping, so that it is
/// predictable for users; bookkeeping adds roughly 50 to 70 bytes per entry.
/// Not thread-safe: meant to be owned by a single actor.
class lru_cache {
public:
  // -- member types -----------------------------------------------------------

  /// Monotonic, so that wall-clock jumps cannot expire or revive entries.
  using clock = std::chrono::steady_clock;

  /// Point in time on `clock`.
  using time_point = clock::time_point;

  // -- constructors, destructors, and assignment operators --------------------

  /// Creates an empty cache holding at most `max_entries` entries and at most
  /// `max_bytes` bytes of keys plus values.
  lru_cache(size_t max_entries, size_t max_bytes);

  /// Takes over all entries; `other` keeps its bounds but becomes empty.
  lru_cache(lru_cache&& other) noexcept;

  /// Drops all entries, then takes over those of `other`, which becomes empty.
  lru_cache& operator=(lru_cache&& other) noexcept;

  // Entries are owned raw allocations, so a copy would double-free them.
  lru_cache(const lru_cache&) = delete;
  lru_cache& operator=(const lru_cache&) = delete;

  /// Frees every entry.
  ~lru_cache();

  // -- observers --------------------------------------------------------------

  /// Returns the number of entries, including expired ones not yet removed.
  size_t size() const noexcept {
    return size_;
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

  /// Returns the value for `key` and marks it most recently used, or nullopt
  /// when absent or expired at `now` (an expired entry is erased and counted
  /// in expirations()). The view stays valid until the next call to a
  /// non-const member function.
  std::optional<std::string_view> get(std::string_view key, time_point now);

  /// Inserts or replaces the entry for `key` as most recently used and evicts
  /// least recently used entries until both bounds hold; `expires` equal to
  /// time_point::max() means no TTL. Returns false and erases any old entry
  /// for `key` when the entry alone cannot fit, which includes a key or value
  /// of 4 GiB or more (a stale value would be worse than none).
  bool put(std::string key, std::string value, time_point expires,
           time_point now);

  /// Removes the entry for `key`; returns true if there was one.
  bool erase(std::string_view key);

  /// Removes every entry for which `pred(key, value)` is true; returns how
  /// many. Visits every entry, so it costs time linear in size().
  size_t erase_if(
    const std::function<bool(std::string_view, std::string_view)>& pred);

  /// Removes every entry without counting evictions or expirations.
  void clear();

  /// Changes the bounds; entries beyond the new ones go, least recently
  /// used first (counted as evictions, or expirations when expired).
  void set_bounds(size_t max_entries, size_t max_bytes, time_point now);

private:
  // -- member types -----------------------------------------------------------

  /// Header of a single allocation that also holds the key bytes followed by
  /// the value bytes, so that each entry costs one malloc chunk.
  struct entry {
    /// Neighbor toward the most recently used end.
    entry* prev;

    /// Neighbor toward the least recently used end.
    entry* next;

    time_point expires;

    // 32-bit lengths keep the header at 32 bytes.
    uint32_t key_len;
    uint32_t value_len;

    const char* data() const noexcept {
      return reinterpret_cast<const char*>(this + 1);
    }

    std::string_view key() const noexcept {
      return {data(), key_len};
    }

    std::string_view value() const noexcept {
      return {data() + key_len, value_len};
    }

    size_t payload() const noexcept {
      return size_t{key_len} + value_len;
    }
  };

  // -- constants --------------------------------------------------------------

  static constexpr size_t npos = static_cast<size_t>(-1);

  static constexpr size_t min_capacity = 16;

  // -- utility ----------------------------------------------------------------

  static bool expired(const entry& x, time_point now) noexcept {
    return now >= x.expires;
  }

  static entry* make_entry(std::string_view key, std::string_view value,
                           time_point expires);

  static void destroy(entry* x) noexcept;

  /// Returns the first slot of the probe sequence for `key`.
  size_t home(std::string_view key) const noexcept;

  /// Returns the slot holding `key`, or npos.
  size_t find(std::string_view key) const noexcept;

  /// Returns the first empty slot of the probe sequence for `key`.
  size_t free_slot(std::string_view key) const noexcept;

  /// Doubles the table (or allocates the first one) and reinserts every entry.
  void grow();

  /// Drops the least recently used entries while a bound is exceeded.
  void shrink(time_point now);

  void link_front(entry* x) noexcept;

  void unlink(entry* x) noexcept;

  /// Unlinks and frees the entry in `slot` and closes the gap it leaves.
  void remove_at(size_t slot) noexcept;

  /// Frees every entry and the table.
  void release() noexcept;

  // -- member variables -------------------------------------------------------

  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  size_t size_ = 0;
  uint64_t evictions_ = 0;
  uint64_t expirations_ = 0;

  /// Most recently used entry.
  entry* head_ = nullptr;

  /// Least recently used entry, the next eviction victim.
  entry* tail_ = nullptr;

  /// Open addressing with linear probing: a bare pointer per slot and no
  /// per-entry chain link is what keeps the bookkeeping small. The capacity is
  /// zero or a power of two, and at most 3/4 of the slots are in use so that
  /// probe runs stay short and always end at an empty slot.
  std::unique_ptr<entry*[]> slots_;
  size_t capacity_ = 0;
};

} // namespace cafcache
