#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/io/middleman.hpp>

#include "runtime/config.hpp"

namespace cafcache {

/// Options of cafcache-bench (`--bench.*`), one run or the whole suite.
struct bench_config : system_config {
  uint32_t requesters = 50;
  caf::timespan duration = std::chrono::seconds(5);
  uint32_t keys = 10000;
  uint32_t value_bytes = 100;
  double read_ratio = 1.0;
  std::string mode = "redis";
  std::string key_prefix;
  std::string codec = "raw";
  uint32_t bare_connections = 1;
  bool baseline = false;
  uint32_t pipeline = 1;
  uint32_t baseline_clients = 0;
  bool json = false;
  bool suite = false;
  uint32_t repetitions = 3;
  std::string out = "bench/results.json";
  /// The server half of the remote modes (run by the bench itself).
  std::string serve;
  uint16_t redis_port = 0;
  uint32_t primaries = 3;

  bench_config() {
    load<caf::io::middleman>();
    opt_group{custom_options_, "bench"}
      .add(requesters, "requesters", "requests in flight (one per actor)")
      .add(duration, "duration", "measured time per run")
      .add(keys, "keys", "distinct keys")
      .add(value_bytes, "value-bytes", "value size in bytes")
      .add(read_ratio, "read-ratio", "share of GETs (rest SETs)")
      .add(mode, "mode",
           "redis | bare (hand-written delegating actor, no cafcache) | "
           "null (no Redis, same hops) | down (Redis unreachable, fallback "
           "only) | memory (fallback RSS per entry) | stampede (loader calls "
           "for N concurrent cold misses) | remote (a cache published with "
           "publish_cache in a second process, driven over CAF's network "
           "layer) | remote-unguarded (the same, published by the middleman "
           "alone: the peer guard's cost) | remote-bare (the bare actor "
           "published likewise) | cluster (a loopback Redis Cluster of "
           "--bench.primaries, no replicas)")
      .add(key_prefix, "key-prefix",
           "prefix of every Redis key (cafcache's default: cafcache:)")
      .add(codec, "codec",
           "raw (value-bytes of 'v') | msgpack (a record of about "
           "value-bytes)")
      .add(bare_connections, "bare-connections",
           "Redis connections of --bench.mode=bare (key hashed to one)")
      .add(baseline, "baseline", "also run redis-benchmark, same settings")
      .add(pipeline, "pipeline", "redis-benchmark -P for the baseline")
      .add(baseline_clients, "baseline-clients",
           "redis-benchmark -c (default: --bench.requesters)")
      .add(json, "json", "print one JSON object instead of text")
      .add(suite, "suite", "run every scenario of the README, write --out")
      .add(repetitions, "repetitions", "runs per scenario in --suite")
      .add(out, "out", "results file of --suite")
      .add(serve, "serve",
           "internal: serve cafcache | cafcache-unguarded | bare for a "
           "remote mode")
      .add(redis_port, "redis-port", "internal: the Redis of --serve")
      .add(primaries, "primaries",
           "primaries of --bench.mode=cluster (1 to 3 on this machine)");
  }
};

} // namespace cafcache
