#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/jobs.hpp"
#include "messages/types.hpp"
#include "messages/metrics_report.hpp"

namespace cafcache {

/// A user's source of truth for get_or_load: answers `(load_atom, key)` with
/// found + value, or with an error (reaches every waiter, never cached).
using loader_actor = caf::typed_actor<
  caf::replies_to<load_atom, std::string>::with<load_result>>;

/// The cache as users see it, locally or from another node.
///
/// - `get(key, options)` -> found, value, tier, stale
/// - `set(key, value, options)` (put_atom) -> where the write went
/// - `invalidate(key, options)` (delete_atom) -> where the delete went
/// - `invalidate_tag(tag, options)` (delete_atom, tag_atom) -> where the
///   delete went; removes every key whose value was set with that tag
/// - `mget(keys, options)` / `mset(entries, options)`: the same per key, sent
///   together (pipelined), answered with one result per key in order
/// - `get_or_load(key, loader, options)` (load_atom) -> like get; on a miss
///   the loader is asked once for all concurrent callers and its value stored
/// - `health` -> health_report, `stats` -> stats_report
///
/// Every request is answered before its deadline; failures arrive as
/// `cafcache::errc` errors (see messages/errc.hpp).
using cache_actor = caf::typed_actor<
  caf::replies_to<get_atom, std::string, request_options>::with<get_result>,
  caf::replies_to<put_atom, std::string, cache_value, set_options>::with<
    write_result>,
  caf::replies_to<delete_atom, std::string, request_options>::with<
    write_result>,
  caf::replies_to<delete_atom, tag_atom, std::string, request_options>::with<
    write_result>,
  caf::replies_to<get_atom, std::vector<std::string>, request_options>::with<
    std::vector<get_result>>,
  caf::replies_to<put_atom, std::vector<key_value>, set_options>::with<
    std::vector<write_result>>,
  caf::replies_to<load_atom, std::string, loader_actor, set_options>::with<
    get_result>,
  caf::replies_to<health_atom>::with<health_report>,
  caf::replies_to<stats_atom>::with<stats_report>>;

/// The cache actor as the module's own actors see it: the user interface plus
/// the signals of breaker and supervisor.
using cache_internal_actor = cache_actor::extend<
  // Breaker: the route changed.
  caf::reacts_to<route_atom, breaker_state>,
  // Supervisor: connection slot is up (valid handle) or down (error); the
  // last argument is the dataset identity of the Redis it reached
  // ("run_id/master_replid", empty when unknown).
  caf::reacts_to<conn_atom, uint32_t, caf::actor, caf::error, std::string>,
  // spawn_cache: answered once the first connection attempt has an outcome.
  caf::replies_to<ready_atom>::with<bool>,
  // Timer: replay retry or shutdown watchdog.
  caf::reacts_to<tick_atom>,
  // Timer: deadline sweep.
  caf::reacts_to<sweep_atom>,
  // Timer: report the Redis failures counted since the last report.
  caf::reacts_to<report_atom>,
  // Subscriber connection: an invalidation another node published.
  caf::reacts_to<push_atom, std::string, std::string>,
  // Scrape: every counter and histogram (see runtime/metrics).
  caf::replies_to<metrics_atom>::with<metrics_report>,
  // Supervisor: the batch sizes a closing Redis connection counted.
  caf::reacts_to<metrics_atom, bucket_histogram>,
  // Connection: the delegated requests it finished, in Redis' order.
  caf::reacts_to<served_atom, served_batch>,
  // Connection: a delegated get it could not serve (Redis failed, ran out of
  // time, or the connection is lost), still the client's request.
  caf::replies_to<get_atom, get_job, caf::error, caf::actor>::with<
    get_result>,
  // Connection: a delegated write Redis refused, that outlived its Redis
  // deadline, or whose connection is lost, still the client's request.
  caf::replies_to<write_atom, write_job, caf::error, caf::actor>::with<
    write_result>>;

/// The in-memory fallback tier (local only).
using fallback_actor = caf::typed_actor<
  // Lookup: the stored envelope, or an empty vector on a miss.
  caf::replies_to<get_atom, std::string>::with<std::vector<std::string>>,
  // A client's get the cache delegated: answered here, reported in batches.
  caf::replies_to<get_atom, get_job>::with<get_result>,
  // Cache: send what was served so far, ahead of this reply.
  caf::replies_to<served_atom>::with<bool>,
  // Store key, envelope, ttl; `dirty` records the key for replay.
  caf::reacts_to<put_atom, std::string, std::string, caf::timespan, bool>,
  // Cache: values read from Redis, in a batch; an empty envelope erases.
  caf::reacts_to<put_atom, std::vector<mirror_entry>>,
  // Erase key; `dirty` records the key for replay.
  caf::reacts_to<delete_atom, std::string, bool>,
  // Erase every entry carrying a tag; `dirty` records the tag for replay.
  caf::reacts_to<delete_atom, tag_atom, std::string, bool>,
  // Drops every entry; the dirty log stays.
  caf::reacts_to<clear_atom>,
  // Takes up to n keys out of the dirty log.
  caf::replies_to<drain_atom, uint32_t>::with<dirty_batch>,
  // Puts keys back after a failed replay.
  caf::reacts_to<dirty_atom, dirty_batch>,
  caf::replies_to<stats_atom>::with<fallback_stats>>;

/// The breaker (local only).
using breaker_actor = caf::typed_actor<
  // Outcomes of regular Redis calls, batched: `failures` consecutive
  // failures, then a success when the bool is true.
  caf::reacts_to<outcome_atom, uint32_t, bool>,
  // Outcome of the half-open probe.
  caf::reacts_to<probe_atom, bool>,
  // The supervisor saw the connection go up (true) or down (false).
  caf::reacts_to<conn_atom, bool>,
  // Timer.
  caf::reacts_to<tick_atom, uint64_t>>;

} // namespace cafcache
