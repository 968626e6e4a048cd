#pragma once

// The requests the cache actor holds while they are under way (see
// actors/cache.hpp): plain data, read and written by that actor only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/interfaces.hpp"
#include "messages/types.hpp"

namespace cafcache {

struct cache_load_flight;

/// One request in flight: what it is, its deadlines and its progress.
struct cache_operation {
  enum class kind : uint8_t { get, set, invalidate, invalidate_tag };
  kind what = kind::get;
  /// The key, or the tag of invalidate_tag.
  std::string key;
  /// Set: the value's tags.
  std::vector<std::string> tags;
  /// Set: the envelope to store.
  std::string stored;
  /// Set: time to live.
  caf::timespan ttl{0};
  /// The caller's correlation id, for log lines; may be empty.
  std::string correlation_id;
  /// Coherence: taken at the start, checked before copying into the
  /// fallback (see coherence::mirror_guard).
  uint64_t ticket = 0;
  caf::actor_clock::time_point start;
  /// The answer must leave before this.
  caf::actor_clock::time_point deadline;
  /// Redis must have answered by this, or the fallback takes over.
  caf::actor_clock::time_point redis_deadline;
  caf::typed_response_promise<get_result> get_rp;
  caf::typed_response_promise<write_result> write_rp;
  /// Waiting for Redis; a reply that finds this false is ignored.
  bool in_redis = false;
  /// The Redis deadline is registered (once, whatever the attempts).
  bool redis_armed = false;
  /// Connections this operation was sent to (a lost one is retried).
  uint8_t attempts = 0;
  /// Redis Cluster: times it met TRYAGAIN or CLUSTERDOWN, and whether it
  /// waits to be sent again (`in_redis` stays true meanwhile).
  uint8_t retries = 0;
  bool waiting = false;
  /// The slot of the connection it went to last.
  uint32_t slot = 0;
  /// Set: Redis refused it with this error; the key's deletion is under
  /// way.
  caf::error refusal;
  /// Answered.
  bool settled = false;
  /// Get: the stored value was the negative-caching marker.
  bool negative = false;
  /// Get: the stored value is past its soft TTL.
  bool soft_expired = false;
  /// Started by the cache itself (a get_or_load lookup or the store of a
  /// loaded value): its answer goes to the flight, not to a promise.
  bool internal = false;
  /// get_or_load: the flight this operation waits on or looks up for.
  std::shared_ptr<cache_load_flight> flight;
  /// Part of a bulk request: receives the answer instead of a promise.
  std::function<void(caf::expected<get_result>)> on_get;
  std::function<void(caf::expected<write_result>)> on_write;
};

/// get_or_load of one key: one lookup and at most one loader call shared by
/// every caller that asks while it is under way (single-flight).
struct cache_load_flight {
  std::string key;
  loader_actor loader;
  caf::timespan ttl{0};
  caf::timespan soft_ttl{0};
  std::vector<std::string> tags;
  std::vector<std::shared_ptr<cache_operation>> waiters;
};

} // namespace cafcache
