#pragma once

#include <optional>
#include <string>
#include <unordered_set>

#include "messages/internal.hpp"
#include "runtime/config.hpp"
#include "runtime/lru_cache.hpp"

namespace cafcache {

/// State of the fallback actor: the in-memory tier and the dirty-key log.
///
/// The cache actor mirrors every value it reads from or writes to Redis into
/// this tier, so that an outage serves recent data. Writes and invalidations
/// made while Redis is unreachable are recorded as dirty; the cache actor
/// deletes those keys in Redis before it routes to Redis again.
class fallback_state {
public:
  // -- member types ---------------------------------------------------------

  using clock = lru_cache::clock;

  // -- constructors ---------------------------------------------------------

  fallback_state() = default;

  /// Sizes the tier from the config.
  void init(const config& cfg);

  // -- callbacks for the behavior -------------------------------------------

  /// Returns the stored envelope, or an empty vector on a miss.
  std::vector<std::string> lookup(const std::string& key);

  /// Answers a get the cache delegated (Redis is not routed, or failed it)
  /// and notes it for the cache's counters.
  get_result serve(get_job& job, caf::timespan now);

  /// The gets served since the last call, for the cache.
  served_batch take_served() {
    served_batch out;
    out.swap(served_);
    return out;
  }

  bool has_served() const {
    return !served_.empty();
  }

  size_t served_count() const {
    return served_.size();
  }

  /// Stores an envelope; `dirty` records the key for replay.
  void store(std::string key, std::string stored, caf::timespan ttl,
             bool dirty);

  /// Erases a key; `dirty` records the key for replay.
  void erase(const std::string& key, bool dirty);

  /// Erases every entry whose envelope carries `tag`; `dirty` records the tag
  /// for replay.
  void erase_tag(const std::string& tag, bool dirty);

  /// Drops every entry but those of keys in the dirty-key log (writes
  /// waiting for their replay); the log stays.
  void clear();

  /// New bounds; the least recently used entries beyond them go.
  void set_bounds(uint64_t entries, uint64_t bytes);

  /// Redis Cluster: drops the entries of keys in `slots` (they moved to
  /// another primary's cache); the dirty-key log stays.
  void erase_slots(const std::vector<uint16_t>& slots);

  /// Takes up to `n` keys (and the overflow flag) out of the dirty log.
  dirty_batch drain(uint32_t n);

  /// Puts a batch back into the dirty log after a failed replay.
  void restore(dirty_batch batch);

  /// Sizes for stats and health.
  fallback_stats stats() const;

  /// The name CAF shows for this actor.
  static inline const char* name = "cafcache.fallback";

private:
  void mark_dirty(const std::string& key);

  void mark_dirty_tag(const std::string& tag);

  /// True when the log holds no more room for another key or tag.
  bool log_full() const;

  void overflow();

  std::optional<lru_cache> cache_;
  /// The key prefix, which places keys in cluster slots.
  std::string prefix_;
  served_batch served_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> dirty_tags_;
  uint64_t dirty_max_ = 0;
  bool overflowed_ = false;
};

/// Spawnable behavior of the fallback actor.
/// Most gets the fallback reports in one message.
constexpr size_t max_served_batch = 256;

/// Spawnable behavior of the fallback actor; it reports the gets it served
/// for `cache` in batches (after their answers: once the mailbox is empty,
/// after 256, or when asked with `served_atom`).
fallback_actor::behavior_type
fallback(fallback_actor::stateful_pointer<fallback_state> self, config cfg,
         cache_internal_actor cache);

} // namespace cafcache
