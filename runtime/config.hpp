#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "runtime/circuit_breaker.hpp"
#include "runtime/redis_url.hpp"

namespace cafcache {

/// What stands behind the cache actor (`cafcache.backend`).
enum class backend_kind : uint8_t {
  /// Redis, with the fallback for when it fails.
  redis,
  /// The bounded in-memory tier alone.
  memory,
  /// An unbounded in-process map with Redis's actor hops (benchmarks).
  null,
};

/// The backend named `name`, or nullopt for any other name.
std::optional<backend_kind> parse_backend(std::string_view name);

/// Every knob of cafcache with its default, written once. Each field is also a
/// CAF config key `cafcache.<name>` (command line `--cafcache.<name>=...` or a
/// `cafcache { ... }` section in caf-application.ini); the table in README.md
/// is generated from `for_each_field` by `cafcache-options --markdown`.
struct config {
  // -- Redis --------------------------------------------------------------

  /// redis://[user:password@]host[:port][/db],
  /// redis-sentinel://[user:password@]host[:port][,host[:port]...][/db]#name
  /// or redis-cluster://[user:password@]host[:port][,host[:port]...]
  std::string redis_url = "redis://127.0.0.1:6379";
  /// ACL user and password for the Sentinels of a redis-sentinel:// URL;
  /// an empty password means the Sentinels get no AUTH.
  std::string sentinel_user;
  std::string sentinel_password;
  /// Limit for asking one Sentinel for the master's address.
  caf::timespan sentinel_timeout = std::chrono::milliseconds(500);
  /// Redis Cluster: the slot map is fetched again this often, and at most
  /// once per `cluster-refresh-spacing` when a node redirects a request or
  /// a connection fails (single-flight).
  caf::timespan cluster_refresh_period = std::chrono::seconds(10);
  caf::timespan cluster_refresh_spacing = std::chrono::seconds(1);
  /// "redis"; "memory" for the in-memory tier alone (the bounded fallback, no
  /// Redis, nothing shared or persisted); or "null" for an unbounded
  /// in-process map with the same actor hops as Redis (the benchmark's
  /// messaging ceiling).
  std::string backend = "redis";
  /// Namespace prepended to every key in Redis.
  std::string key_prefix = "cafcache:";
  /// Connections to Redis: one carries every key, pipelined; the others
  /// stand by and take over at once when it drops (runtime/key_router).
  uint32_t pool_size = 2;
  /// Bound on requests in flight per connection; beyond it the connection
  /// sheds them: reads are answered from the fallback, writes go to it (and
  /// the dirty log), and neither counts as a Redis failure.
  uint32_t max_pending = 10000;
  /// How long one connection attempt (TCP connect plus AUTH/SELECT) may take.
  caf::timespan connect_timeout = std::chrono::seconds(2);
  /// First delay between reconnect attempts.
  caf::timespan reconnect_min = std::chrono::milliseconds(100);
  /// Cap of the growing delay between reconnect attempts.
  caf::timespan reconnect_max = std::chrono::seconds(10);

  // -- requests -----------------------------------------------------------

  /// Deadline of a request that does not bring its own.
  caf::timespan request_timeout = std::chrono::milliseconds(500);
  /// Part of each deadline kept back from Redis so that the fallback can still
  /// answer in time.
  caf::timespan fallback_reserve = std::chrono::milliseconds(20);
  /// TTL of a `set` that does not bring its own.
  caf::timespan default_ttl = std::chrono::seconds(3600);
  /// +- random fraction applied to every TTL, so that keys written together
  /// do not expire together (0 = exact TTLs).
  double ttl_jitter = 0.0;
  /// get_or_load: how long "the loader found nothing" is cached; zero turns
  /// negative caching off.
  caf::timespan negative_ttl = std::chrono::seconds(0);
  /// Keep the fallbacks of every cache on the same Redis and prefix coherent:
  /// publish each write, subscribe to the others' (one more connection).
  bool coherence = true;
  /// Longest key accepted, in bytes (without the prefix).
  uint32_t max_key_bytes = 1024;
  /// Longest value accepted, in bytes.
  uint32_t max_value_bytes = 1024 * 1024;

  // -- fallback -----------------------------------------------------------

  /// Entry bound of the in-memory fallback.
  uint64_t fallback_max_entries = 100000;
  /// Byte bound (keys plus values) of the in-memory fallback.
  uint64_t fallback_max_bytes = 64 * 1024 * 1024;
  /// Longest time a value read from Redis is kept in the fallback (a GET does
  /// not tell the remaining TTL).
  caf::timespan fallback_read_ttl = std::chrono::seconds(60);
  /// Bound of the dirty-key log; past it a recovery flushes the namespace.
  uint64_t dirty_max_keys = 100000;
  /// How long a key written to Redis is remembered, so that it can be deleted
  /// when Redis comes back with an older dataset (new `run_id` or replication
  /// id: a restart from an older AOF/RDB, a promoted replica); 0 turns this
  /// off (for a Redis that persists every write with `appendfsync always`).
  caf::timespan recent_write_window = std::chrono::minutes(5);
  /// Bound of that log; past it such a change flushes the namespace.
  uint64_t recent_write_max_keys = 100000;

  // -- breaker ------------------------------------------------------------

  /// Consecutive failures that open the breaker.
  uint32_t breaker_failure_threshold = 5;
  /// First open period before a probe.
  caf::timespan breaker_reset_timeout = std::chrono::seconds(30);
  /// Cap of the open period, which grows after each failed probe.
  caf::timespan breaker_max_reset_timeout = std::chrono::seconds(300);
  /// Growth factor of the open period and of the reconnect delay.
  double backoff_factor = 2.0;
  /// +- fraction of random jitter on open periods and reconnect delays.
  double jitter = 0.2;
  /// Deadline of the half-open probe (dirty-key replay plus PING), and how
  /// long a connection's oldest command waits for its reply before the
  /// connection is dropped as lost (a hung server, a forgotten socket).
  caf::timespan probe_timeout = std::chrono::seconds(2);
  /// Longest time in half-open before giving up and reopening.
  caf::timespan max_half_open = std::chrono::seconds(10);

  // -- node (cafcache-node) -----------------------------------------------

  /// TCP port on which cafcache-node publishes the cache; 0 picks a free one.
  uint16_t port = 0;
  /// Address cafcache-node listens on.
  std::string bind = "127.0.0.1";
  /// TCP port of cafcache-node's HTTP endpoints `/metrics` (Prometheus) and
  /// `/health` (JSON), on the `bind` address; 0 turns them off.
  uint16_t metrics_port = 0;
  /// Largest CAF message (BASP payload) a peer may send to cafcache-node
  /// without TLS; a peer announcing more is disconnected.
  uint32_t max_message_bytes = 8 * 1024 * 1024;
  /// Peers connected to cafcache-node at the same time (without TLS).
  uint32_t max_peers = 64;
  /// After the cache stopped: how long a peer (without TLS) has to read its
  /// last answers before it is disconnected without them.
  caf::timespan drain_timeout = std::chrono::seconds(2);

  // -- logging ------------------------------------------------------------

  /// Lowest level of the structured log lines on stderr: "debug" (adds one
  /// line per request), "info", "warn", "error" or "off".
  std::string log_level = "info";
  /// Lines per second of each per-request warning (`request_failed`,
  /// `request_refused`); the rest are counted into the next line's
  /// `suppressed` field. 0 = no limit.
  uint32_t log_burst = 10;

  // -- reflection ---------------------------------------------------------

  /// Calls `f(name, member pointer, description)` for every field, in the
  /// order of the README table.
  template <class F>
  static void for_each_field(F&& f);

  /// Checks ranges and parses the URL. Returns `errc::bad_config` with a
  /// sentence naming the field on failure.
  caf::error validate() const;

  /// The parsed Redis endpoint (call after `validate`).
  redis_endpoint endpoint() const;

  /// The parsed backend (call after `validate`; `redis` for unknown names).
  backend_kind backend_type() const {
    return parse_backend(backend).value_or(backend_kind::redis);
  }

  /// Breaker settings derived from the fields above.
  breaker_settings breaker() const;

  /// How often the actors holding requests look for passed deadlines: fine
  /// enough that the fallback still has most of its reserve left when Redis
  /// runs out of time (a quarter of `fallback-reserve`, 1 to 5 ms).
  caf::timespan sweep_interval() const;

  /// How long a connection does not send the fallback a value again that it
  /// sent it already (runtime/mirror_memo): half of `fallback-read-ttl`, at
  /// most 1 s, so a value read all the time never expires there.
  caf::timespan mirror_refresh() const;

  /// Reads every `cafcache.*` key from `cfg`, keeping defaults for absent keys.
  static config from(const caf::actor_system_config& cfg);
};

template <class F>
void config::for_each_field(F&& f) {
  f("redis-url", &config::redis_url,
    "redis://[user:password@]host[:port][/db], redis-sentinel://"
    "[user:password@]host[:port][,host[:port]...][/db]#master-name or "
    "redis-cluster://[user:password@]host[:port][,host[:port]...]");
  f("sentinel-user", &config::sentinel_user,
    "ACL user for the Sentinels (redis-sentinel://)");
  f("sentinel-password", &config::sentinel_password,
    "password for the Sentinels; empty = no AUTH to them");
  f("sentinel-timeout", &config::sentinel_timeout,
    "limit for asking one Sentinel for the master's address");
  f("cluster-refresh-period", &config::cluster_refresh_period,
    "Redis Cluster: how often the slot map is fetched again");
  f("cluster-refresh-spacing", &config::cluster_refresh_spacing,
    "Redis Cluster: least time between two fetches on redirects or failures");
  f("backend", &config::backend,
    "`redis`; `memory`: the bounded in-memory tier alone; `null`: "
    "unbounded map, no Redis (benchmark ceiling)");
  f("key-prefix", &config::key_prefix,
    "namespace prepended to every key in Redis");
  f("pool-size", &config::pool_size,
    "connections to Redis: one carries the requests, pipelined; the "
    "others stand by");
  f("max-pending", &config::max_pending,
    "requests in flight per connection before shedding load");
  f("connect-timeout", &config::connect_timeout,
    "limit for one connection attempt incl. AUTH/SELECT");
  f("reconnect-min", &config::reconnect_min,
    "first delay between reconnect attempts");
  f("reconnect-max", &config::reconnect_max,
    "cap of the growing reconnect delay");
  f("request-timeout", &config::request_timeout,
    "deadline of a request that brings none");
  f("fallback-reserve", &config::fallback_reserve,
    "part of each deadline kept for the fallback");
  f("default-ttl", &config::default_ttl, "TTL of a set that brings none");
  f("ttl-jitter", &config::ttl_jitter,
    "+- random fraction on every TTL (0 = exact)");
  f("negative-ttl", &config::negative_ttl,
    "TTL of cached loader misses; 0 = no negative caching");
  f("coherence", &config::coherence,
    "publish writes and erase other nodes' writes from the fallback "
    "(Redis pub/sub)");
  f("max-key-bytes", &config::max_key_bytes, "longest key accepted");
  f("max-value-bytes", &config::max_value_bytes, "longest value accepted");
  f("fallback-max-entries", &config::fallback_max_entries,
    "entry bound of the in-memory fallback");
  f("fallback-max-bytes", &config::fallback_max_bytes,
    "byte bound (keys + values) of the fallback");
  f("fallback-read-ttl", &config::fallback_read_ttl,
    "how long a value read from Redis stays in the fallback");
  f("dirty-max-keys", &config::dirty_max_keys,
    "dirty-key log bound; past it recovery flushes the namespace");
  f("recent-write-window", &config::recent_write_window,
    "how long written keys are remembered, to delete them when Redis comes "
    "back with an older dataset (new run_id or replication id); 0 = off");
  f("recent-write-max-keys", &config::recent_write_max_keys,
    "bound of that log; past it such a return flushes the namespace");
  f("breaker-failure-threshold", &config::breaker_failure_threshold,
    "consecutive failures that open the breaker");
  f("breaker-reset-timeout", &config::breaker_reset_timeout,
    "first open period before a probe");
  f("breaker-max-reset-timeout", &config::breaker_max_reset_timeout,
    "cap of the growing open period");
  f("backoff-factor", &config::backoff_factor,
    "growth of open periods and reconnect delays");
  f("jitter", &config::jitter,
    "+- random fraction on open periods and reconnect delays");
  f("probe-timeout", &config::probe_timeout,
    "deadline of the half-open probe (replay + PING); also how long a "
    "connection's oldest command waits for its reply before the connection "
    "is dropped as lost, and how often an idle connection is checked with a "
    "PING");
  f("max-half-open", &config::max_half_open,
    "longest time in half-open before reopening");
  f("port", &config::port,
    "cafcache-node: TCP port to publish on; 0 = any free port, printed");
  f("bind", &config::bind, "cafcache-node: address to listen on");
  f("metrics-port", &config::metrics_port,
    "cafcache-node: HTTP port of `/metrics` and `/health`; 0 = off");
  f("max-message-bytes", &config::max_message_bytes,
    "cafcache-node without TLS: largest message a peer may send; larger "
    "ones close its connection");
  f("max-peers", &config::max_peers,
    "cafcache-node without TLS: connections accepted at the same time");
  f("drain-timeout", &config::drain_timeout,
    "cafcache-node without TLS: after the cache stopped, how long peers have "
    "to read their last answers before they are disconnected");
  f("log-level", &config::log_level,
    "structured log lines on stderr: `debug` (one per request), `info`, "
    "`warn`, `error` or `off`");
  f("log-burst", &config::log_burst,
    "lines per second of each per-request warning (`request_failed`, "
    "`request_refused`); the rest are counted in the next line's "
    "`suppressed`; 0 = no limit");
}

/// Registers cafcache's message types and error category on `cfg` and declares
/// every `cafcache.*` option in `opts` (so `--help` lists them and config files
/// are type-checked). Call it in the constructor of every actor_system_config
/// that hosts or reaches a cache: `cafcache::add_module(*this, custom_options_)`.
void add_module(caf::actor_system_config& cfg, caf::config_option_set& opts);

/// An actor_system_config with cafcache already added, for programs that need
/// nothing else. It also starts one scheduler worker per core
/// (`scheduler.max-threads`) instead of CAF's at least 4, and lets an idle
/// worker wait on its condition variable right after its short spin
/// (`work-stealing.moderate-poll-attempts = 0`) instead of sleeping 50 us at
/// a time first.
struct system_config : caf::actor_system_config {
  system_config();
};

/// Renders the option table of README.md.
std::string options_markdown();

} // namespace cafcache
