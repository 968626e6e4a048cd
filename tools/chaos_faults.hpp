#pragma once

// The fault schedules of cafcache-chaos: what happens to the Redis under
// load, at fixed fractions of the run (tools/chaos.cpp runs the load and
// checks every answer).

#include <atomic>
#include <filesystem>
#include <functional>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include "cafcache.hpp"
#include "tests/harness/redis_cluster.hpp"
#include "tests/harness/redis_process.hpp"

namespace cafcache::chaos {

/// One fault of the schedule, at a fraction of the run.
struct fault {
  double at;
  const char* what;
  std::function<void()> act;
};

/// What the faults need of the run.
struct fault_context {
  caf::actor_system* sys;
  /// The cache that writes (the partial-loss fault waits until it is
  /// healthy).
  cache_actor cache;
  caf::timespan duration;
  /// Set while single pool connections are killed: the writes answered
  /// then are counted apart.
  std::atomic<bool>* partial_phase;
};

/// Polls `cache` until it reports healthy, for at most `limit`.
bool wait_healthy(caf::actor_system& sys, const cache_actor& cache,
                  caf::timespan limit);

/// On one redis-server (persisting to `dir` with appendfsync always):
/// kill -9 and restart with the persisted data (three times), SIGSTOP for
/// 2 s (twice), kill plus restart with an empty dataset, one pool connection
/// killed every 150 ms for a twentieth of the run, and a restart from a copy
/// of the data taken a little earlier (an older dataset, at 0.90).
std::vector<fault> redis_faults(redis_process& redis,
                                const std::filesystem::path& dir,
                                fault_context ctx);

/// On a Redis Cluster of 3 primaries with a replica each: CLUSTER FAILOVER,
/// SIGSTOP of a primary for 2 s (longer than the node timeout: its replica
/// takes over), kill -9 of a primary and its restart as a replica, one pool
/// connection of a primary killed every 150 ms, and a primary killed with
/// its replica (CLUSTERDOWN for that shard) and both restarted. Each fault
/// waits for the cluster to be healthy before it starts.
std::vector<fault> cluster_faults(redis_cluster& cl, fault_context ctx);

} // namespace cafcache::chaos
