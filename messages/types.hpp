#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "messages/value.hpp"

namespace cafcache {

/// The states of a circuit breaker.
enum class breaker_state : uint8_t {
  /// Calls go through; failures are counted.
  closed,
  /// Calls are short-circuited until the open period ends.
  open,
  /// A single probe decides between closed and open.
  half_open,
};

/// Returns "closed" / "open" / "half-open".
const char* to_string(breaker_state x);

/// Which storage tier answered a request.
enum class tier : uint8_t {
  /// Nobody stored or found anything (a miss answered without a tier).
  none = 0,
  /// Redis answered.
  redis = 1,
  /// The in-memory fallback answered because Redis could not.
  fallback = 2,
  /// get_or_load: the loader produced the answer.
  loader = 3,
};

/// Returns "none", "redis" or "fallback".
const char* to_string(tier x);

/// Per-request options of `get` and `invalidate`.
struct request_options {
  /// Deadline for the answer; zero means `cafcache.request-timeout`.
  caf::timespan deadline{0};
  /// Optional id of the caller's request, repeated in the cache's log lines
  /// about this request.
  std::string correlation_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_options& x) {
  return f(caf::meta::type_name("cafcache.request_options"), x.deadline,
           x.correlation_id);
}

/// Per-request options of `set`.
struct set_options {
  /// Time to live in Redis and in the fallback; zero means
  /// `cafcache.default-ttl`.
  caf::timespan ttl{0};
  /// Deadline for the answer; zero means `cafcache.request-timeout`.
  caf::timespan deadline{0};
  /// get_or_load only: after this the value is still served (marked stale)
  /// while one background load refreshes it; `ttl` stays the hard limit.
  /// Zero means no soft TTL.
  caf::timespan soft_ttl{0};
  /// Tags of the value (at most 32, each 1 to 255 bytes): `invalidate_tag`
  /// removes every key that carries the tag, in Redis and in the fallback.
  std::vector<std::string> tags;
  /// Optional id of the caller's request, repeated in the cache's log lines
  /// about this request.
  std::string correlation_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, set_options& x) {
  return f(caf::meta::type_name("cafcache.set_options"), x.ttl, x.deadline,
           x.soft_ttl, x.tags, x.correlation_id);
}

/// Answer to `get`. A miss is an answer (`found == false`), not an error.
struct get_result {
  /// Whether a value was found.
  bool found = false;
  /// The value, when found.
  cache_value value;
  /// Which tier answered.
  tier source = tier::none;
  /// True when the value came from the fallback: it may be older than what
  /// Redis holds.
  bool stale = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_result& x) {
  return f(caf::meta::type_name("cafcache.get_result"), x.found, x.value,
           x.source, x.stale);
}

/// Answer to `set` and `invalidate`.
struct write_result {
  /// Where the write went: Redis, or only the fallback while Redis is
  /// unreachable (the key is then deleted in Redis before Redis is used again).
  tier target = tier::none;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_result& x) {
  return f(caf::meta::type_name("cafcache.write_result"), x.target);
}

/// One entry of a bulk set.
struct key_value {
  std::string key;
  cache_value value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, key_value& x) {
  return f(caf::meta::type_name("cafcache.key_value"), x.key, x.value);
}

/// What a loader answers to `(load_atom, key)`.
struct load_result {
  /// Whether the source of truth has a value for the key.
  bool found = false;
  /// The value, when found.
  cache_value value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, load_result& x) {
  return f(caf::meta::type_name("cafcache.load_result"), x.found, x.value);
}

/// Counters and gauges of one cache actor.
struct stats_report {
  /// Requests received, by operation.
  uint64_t gets = 0;
  uint64_t sets = 0;
  uint64_t invalidations = 0;
  uint64_t tag_invalidations = 0;
  /// Values found, by tier.
  uint64_t hits_redis = 0;
  uint64_t hits_fallback = 0;
  /// Gets that found nothing.
  uint64_t misses = 0;
  /// Requests answered with an error.
  uint64_t errors = 0;
  /// Redis calls that failed or ran past their share of the deadline.
  uint64_t redis_failures = 0;
  /// Requests (and replay commands) a connection shed because `max-pending`
  /// were in flight on it: served like failed ones, not counted as Redis
  /// failures.
  uint64_t shed_requests = 0;
  /// Values in Redis that did not decode (answered as misses).
  uint64_t decode_errors = 0;
  /// Answers served from the fallback because Redis failed.
  uint64_t stale_served = 0;
  /// Writes that went to the fallback only.
  uint64_t degraded_writes = 0;
  /// Keys deleted in Redis by dirty-key replays.
  uint64_t replayed_keys = 0;
  /// Tags invalidated in Redis by dirty-key replays.
  uint64_t replayed_tags = 0;
  /// Replays that flushed the whole namespace because the dirty log overflowed.
  uint64_t namespace_flushes = 0;
  /// Redis Cluster: slots whose keys were deleted on a primary that took
  /// them over.
  uint64_t slots_flushed = 0;
  /// get_or_load requests, loader calls, and requests that joined a load
  /// already under way (single-flight).
  uint64_t get_or_loads = 0;
  uint64_t loads = 0;
  uint64_t coalesced = 0;
  /// Breaker transitions, by target state.
  uint64_t breaker_opened = 0;
  uint64_t breaker_half_opened = 0;
  uint64_t breaker_closed = 0;
  /// Coherence: invalidations received from other nodes (a key, a tag or
  /// "everything" each; one message may carry many keys), and times the
  /// subscription to them was lost.
  uint64_t peer_invalidations = 0;
  uint64_t coherence_gaps = 0;
  /// Successful reconnects to Redis.
  uint64_t reconnects = 0;
  /// Times Redis came back with another dataset (run_id or replication id
  /// changed), each followed by deleting the recently written keys.
  uint64_t dataset_changes = 0;
  /// Request latency percentiles in microseconds (all operations).
  uint64_t latency_p50_us = 0;
  uint64_t latency_p99_us = 0;
  /// Fallback size.
  uint64_t fallback_entries = 0;
  uint64_t fallback_bytes = 0;
  /// Keys waiting for replay.
  uint64_t dirty_keys = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stats_report& x) {
  return f(caf::meta::type_name("cafcache.stats_report"), x.gets, x.sets,
           x.invalidations, x.tag_invalidations, x.hits_redis, x.hits_fallback, x.misses, x.errors,
           x.redis_failures, x.shed_requests, x.decode_errors, x.stale_served,
           x.degraded_writes, x.replayed_keys, x.replayed_tags, x.namespace_flushes, x.slots_flushed,
           x.get_or_loads, x.loads, x.coalesced,
           x.breaker_opened, x.breaker_half_opened, x.breaker_closed,
           x.peer_invalidations, x.coherence_gaps,
           x.reconnects, x.dataset_changes, x.latency_p50_us, x.latency_p99_us,
           x.fallback_entries, x.fallback_bytes, x.dirty_keys);
}

/// Answer to `health`.
/// One primary of a Redis Cluster, as `health` and `metrics` show it (none
/// on a single Redis or Sentinel).
struct node_status {
  /// "host:port" of the primary.
  std::string node;
  /// Hash slots it serves now (0: it lost them, and keeps its counters).
  uint32_t slots = 0;
  /// The flags of its own `health`.
  bool healthy = false;
  bool connected = false;
  breaker_state breaker = breaker_state::closed;
  /// Its last error as a sentence, empty when none (`health` only).
  std::string last_error;
  /// Its fallback's size and dirty-key log.
  uint64_t fallback_entries = 0;
  uint64_t dirty_keys = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("cafcache.node_status"), x.node, x.slots,
           x.healthy, x.connected, x.breaker, x.last_error, x.fallback_entries,
           x.dirty_keys);
}

struct health_report {
  /// Every connection to Redis up, the breaker closed, no replay pending.
  bool healthy = false;
  /// At least one connection to Redis is up.
  bool connected = false;
  /// Coherence is on and the subscription to the other nodes' invalidations
  /// is live (always false with `coherence = false`).
  bool subscribed = false;
  /// The route the cache uses now.
  breaker_state breaker = breaker_state::closed;
  /// The Redis URL with the password redacted.
  std::string redis;
  /// The last connection error as a sentence, empty when none.
  std::string last_error;
  /// Counters at the time of the report.
  stats_report stats;
  /// Redis Cluster: each primary, by name.
  std::vector<node_status> nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, health_report& x) {
  return f(caf::meta::type_name("cafcache.health_report"), x.healthy,
           x.connected, x.subscribed, x.breaker, x.redis, x.last_error, x.stats,
           x.nodes);
}

/// Size of the fallback and its dirty-key log.
struct fallback_stats {
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t dirty_keys = 0;
  uint64_t evictions = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fallback_stats& x) {
  return f(caf::meta::type_name("cafcache.fallback_stats"), x.entries, x.bytes,
           x.dirty_keys, x.evictions);
}

/// A batch taken out of the dirty-key log.
struct dirty_batch {
  /// Keys (without prefix) written or invalidated while Redis was unreachable.
  std::vector<std::string> keys;
  /// Tags invalidated while Redis was unreachable.
  std::vector<std::string> tags;
  /// The log overflowed since the last drain: some dirty keys are unknown, so
  /// the whole namespace has to be flushed.
  bool overflowed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dirty_batch& x) {
  return f(caf::meta::type_name("cafcache.dirty_batch"), x.keys, x.tags,
           x.overflowed);
}

} // namespace cafcache
