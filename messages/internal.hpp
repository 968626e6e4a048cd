#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/interfaces.hpp"
#include "messages/jobs.hpp"

/// The messages the module's own actors exchange: one atom per purpose, and
/// the typed interfaces of the cache (as its own actors see it), the
/// fallback and the breaker. Local only; not installed.
namespace cafcache {

// -- spawn_cache ---------------------------------------------------------------

/// Waits until the first connection attempt to Redis has an outcome.
using ready_atom = caf::atom_constant<caf::atom("ready")>;

// -- cache <-> connection ------------------------------------------------------

/// Carries one Redis command (argv) to a connection actor.
using cmd_atom = caf::atom_constant<caf::atom("cmd")>;

/// Cache -> connection: a delegated write (`write_job`); connection -> cache:
/// a delegated write handed back.
using write_atom = caf::atom_constant<caf::atom("write")>;

/// Cache -> itself: its mailbox round is over, the gets it collected go to
/// their connections (`get_batch`).
using flush_atom = caf::atom_constant<caf::atom("flush")>;

/// Connection -> itself: its mailbox round is over, the keys written in it
/// are published in one coherence message.
using announce_atom = caf::atom_constant<caf::atom("announce")>;

/// Connection -> cache: the delegated requests it finished, in a batch;
/// cache -> connection or fallback: send what you finished so far.
using served_atom = caf::atom_constant<caf::atom("served")>;

/// Cache -> connection: send the messages published on the channels you
/// subscribe to to this actor, and drop those sent by this node.
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;

/// Connection -> cache: a message published on a subscribed channel.
using push_atom = caf::atom_constant<caf::atom("push")>;

/// Cache or supervisor -> connection: hand over the pipeline batch sizes
/// counted so far; supervisor -> cache: those of a closing connection.
using batch_sizes_atom = caf::atom_constant<caf::atom("batches")>;

/// Cache to a lost connection: nothing more will be sent to you; quit.
using release_atom = caf::atom_constant<caf::atom("release")>;

// -- connection and supervisor -------------------------------------------------

/// Connector -> supervisor: the outcome of one connection attempt.
using attempt_atom = caf::atom_constant<caf::atom("attempt")>;

/// Connection -> supervisor: the handshake succeeded or failed.
using hello_atom = caf::atom_constant<caf::atom("hello")>;

/// Connection to supervisor: my socket is gone (I linger until released).
using lost_atom = caf::atom_constant<caf::atom("lost")>;

/// Supervisor -> cache / breaker: a connection slot went up or down.
using conn_atom = caf::atom_constant<caf::atom("conn")>;

/// Supervisor -> itself: start the next connection attempt of a slot.
using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// Supervisor -> itself: a connection attempt outlived `connect-timeout`.
using connect_deadline_atom = caf::atom_constant<caf::atom("cdeadline")>;

/// Sentinel watcher -> supervisor -> connections: the Sentinels moved the
/// master to this host and port.
using failover_atom = caf::atom_constant<caf::atom("failover")>;

/// Connection -> supervisor -> connections: the server at this address
/// ("host:port") refused a write as a replica (READONLY): a failover demoted
/// it, and every connection to it follows, not only the one that wrote.
using demoted_atom = caf::atom_constant<caf::atom("demoted")>;

/// Sentinel watcher -> itself: time to check the watched Sentinel;
/// connection -> itself: time to check an idle connection.
using ping_atom = caf::atom_constant<caf::atom("ping")>;

/// Connection -> itself: the handshake outlived its deadline.
using handshake_deadline_atom = caf::atom_constant<caf::atom("hsdeadline")>;

// -- cache <-> breaker ---------------------------------------------------------

/// Breaker -> cache: the route changed.
using route_atom = caf::atom_constant<caf::atom("route")>;

/// Cache -> breaker: outcomes of regular calls to Redis, batched.
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;

/// Cache -> breaker: outcome of the half-open probe.
using probe_atom = caf::atom_constant<caf::atom("probe")>;

/// Breaker -> itself: an open period is over.
using half_open_atom = caf::atom_constant<caf::atom("halfopen")>;

// -- cache <-> fallback --------------------------------------------------------

/// Cache -> fallback: take a batch of dirty keys out of the log.
using drain_atom = caf::atom_constant<caf::atom("drain")>;

/// Cache -> fallback: put keys back into the dirty log after a failed replay.
using dirty_atom = caf::atom_constant<caf::atom("dirty")>;

/// Cache -> fallback: drop every entry but the writes waiting for their replay
/// (the dirty-key log stays).
using clear_atom = caf::atom_constant<caf::atom("clear")>;

// -- cache timers --------------------------------------------------------------

/// Cache -> itself: expire the deadlines that passed.
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;

/// Cache -> itself: the failures of a reporting window go to the breaker.
using report_atom = caf::atom_constant<caf::atom("report")>;

/// Cache -> itself: try the replay again.
using recover_atom = caf::atom_constant<caf::atom("recover")>;

/// Cache -> itself: the shutdown's safety net.
using quit_atom = caf::atom_constant<caf::atom("quit")>;

// -- Redis Cluster: the cache actor <-> its node caches ------------------------

/// Node cache -> its fallback: slots moved away; the fallback's entries of
/// those slots go (they would be served stale after the slots came back).
using disown_atom = caf::atom_constant<caf::atom("disown")>;

/// Node cache -> its fallback: the fallback's share of
/// `fallback-max-entries` and `fallback-max-bytes` (the bounds hold for the
/// whole cache, split over the primaries of the slot map).
using bounds_atom = caf::atom_constant<caf::atom("bounds")>;

/// Node cache -> cache actor: Redis redirected a request (MOVED, ASK,
/// TRYAGAIN, CLUSTERDOWN); the slot map is fetched again (rate-limited).
using refresh_atom = caf::atom_constant<caf::atom("refresh")>;

/// Node cache -> cache actor: Redis redirected this delegated request to
/// host:port (MOVED, or ASK when the bool is true); still the client's.
using redirect_atom = caf::atom_constant<caf::atom("redirect")>;

/// Cache actor -> itself: the periodic fetch of the slot map is due.
using map_period_atom = caf::atom_constant<caf::atom("mapperiod")>;

/// Slot-map fetch -> cache actor: the primaries ("host", port pairs) and
/// for each of the 16384 slots the index of its primary (0xFFFF: none), or
/// the error of the fetch.
using topology_atom = caf::atom_constant<caf::atom("topology")>;

/// The cache actor as the module's own actors see it: the user interface,
/// the signals of each node cache's breaker, supervisor, connections and
/// timers, and the slot-map signals of a Redis Cluster. A `uint16_t` names
/// the node cache a message is for (actors/front.hpp); messages of a
/// node cache's own actors are told apart by their sender.
using cache_internal_actor = cache_actor::extend<
  // Breaker: the route changed.
  caf::reacts_to<route_atom, breaker_state>,
  // Supervisor: connection slot is up (valid handle) or down (error); the
  // last argument is the dataset identity of the Redis it reached
  // ("run_id/master_replid", empty when unknown).
  caf::reacts_to<conn_atom, uint32_t, caf::actor, caf::error, std::string>,
  // spawn_cache: answered once the first connection attempt has an outcome
  // (on a Cluster: the first slot map was fetched, or could not be, and the
  // node caches it names had their first connection attempt).
  caf::replies_to<ready_atom>::with<bool>,
  // Timer of a node cache: try the replay again.
  caf::reacts_to<recover_atom, uint16_t>,
  // Timer of a node cache: the shutdown's safety net; it stops with
  // requests still outstanding.
  caf::reacts_to<quit_atom, uint16_t>,
  // Timer of a node cache: deadline sweep.
  caf::reacts_to<sweep_atom, uint16_t>,
  // Timer of a node cache: report the Redis failures counted since the
  // last report.
  caf::reacts_to<report_atom, uint16_t>,
  // A node cache: the gets collected in this mailbox round go out.
  caf::reacts_to<flush_atom, uint16_t>,
  // Subscriber connection: an invalidation another node published.
  caf::reacts_to<push_atom, std::string, std::string>,
  // Supervisor: the batch sizes a closing Redis connection counted.
  caf::reacts_to<batch_sizes_atom, bucket_histogram>,
  // Connection or fallback: the delegated requests it finished, in order.
  caf::reacts_to<served_atom, served_batch>,
  // Connection: a delegated get it could not serve (Redis failed, ran out of
  // time, or the connection is lost), still the client's request.
  caf::replies_to<get_atom, get_job, caf::error, caf::actor>::with<
    get_result>,
  // Connection: a delegated write Redis refused, that outlived its Redis
  // deadline, or whose connection is lost, still the client's request.
  caf::replies_to<write_atom, write_job, caf::error, caf::actor>::with<
    write_result>,
  // Itself: the report of node cache `uint16_t` (a Cluster's reports are
  // folded from those of its node caches).
  caf::replies_to<health_atom, uint16_t>::with<health_report>,
  caf::replies_to<stats_atom, uint16_t>::with<stats_report>,
  caf::replies_to<metrics_atom, uint16_t>::with<metrics_report>,
  caf::replies_to<ready_atom, uint16_t>::with<bool>,
  // Node cache: fetch the slot map again (rate-limited).
  caf::reacts_to<refresh_atom>,
  // Timer: the periodic fetch of the slot map is due.
  caf::reacts_to<map_period_atom>,
  // Slot-map fetch: hosts, ports, and the primary of each slot.
  caf::reacts_to<topology_atom, std::vector<std::string>,
                 std::vector<uint16_t>, std::vector<uint16_t>>,
  // Slot-map fetch: no node gave a map.
  caf::reacts_to<topology_atom, caf::error>,
  // Node cache: Redis redirected a request to host:port (true: ASK, false:
  // MOVED); the last index names the node cache that counts the request
  // until it is routed (0xFFFF: none, the node cache still holds it).
  caf::replies_to<redirect_atom, get_job, std::string, uint16_t, bool,
                  uint16_t>::with<get_result>,
  caf::replies_to<redirect_atom, write_job, std::string, uint16_t, bool,
                  uint16_t>::with<write_result>>;

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
  // Drops every entry but those of keys in the dirty log, which stays.
  caf::reacts_to<clear_atom>,
  // Cache: new bounds (its share on a cluster); the least recently used
  // entries beyond them go.
  caf::reacts_to<bounds_atom, uint64_t, uint64_t>,
  // Drops the entries of keys in these cluster slots; the dirty log stays.
  caf::reacts_to<disown_atom, std::vector<uint16_t>>,
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
  // Timer: the open period of this generation is over.
  caf::reacts_to<half_open_atom, uint64_t>>;

} // namespace cafcache
