#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/redis_url.hpp"
#include "runtime/resp.hpp"
#include "tests/harness/redis_process.hpp"

namespace cafcache {

/// A Redis Cluster of redis-server child processes on free loopback ports,
/// for tests: `primaries` shards of one primary and `replicas_per_primary`
/// replicas each, made with `redis-cli --cluster create`. Faults are real
/// (`node(i).kill()`, `pause()`, `failover()`). Every question it answers
/// about roles and slots is asked live, so it stays true after failovers.
class redis_cluster {
public:
  // -- initialization ---------------------------------------------------------

  /// Starts the nodes (each with `--cluster-node-timeout node_timeout`),
  /// creates the cluster (1 or 2 primaries without replicas: slots split
  /// by hand, for benchmarks) and waits until it is healthy (`wait_healthy`),
  /// every replica's link to its primary is up and every node's
  /// `CLUSTER SLOTS` lists every replica, for at most 30 s. Throws
  /// std::runtime_error naming what went wrong or what is still missing.
  explicit redis_cluster(size_t primaries = 3, size_t replicas_per_primary = 1,
                         std::chrono::milliseconds node_timeout
                         = std::chrono::milliseconds(1000));

  /// Stops every node and removes their directory.
  ~redis_cluster();

  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  // -- properties -------------------------------------------------------------

  /// The number of nodes, primaries and replicas.
  size_t size() const noexcept {
    return nodes_.size();
  }

  /// Node `i` (0 <= i < size()); the first `primaries` started as the
  /// primaries.
  redis_process& node(size_t i) {
    return *nodes_.at(i);
  }

  /// redis-cluster://127.0.0.1:<port>,127.0.0.1:<port>,... naming every node.
  std::string url() const;

  /// The address of every node, in node order.
  std::vector<host_port> seeds() const;

  // -- live questions ---------------------------------------------------------

  /// The running nodes whose `ROLE` says master now. Nodes that do not
  /// answer are left out.
  std::vector<size_t> primaries() const;

  /// A running node whose `ROLE` says it replicates node `primary`, or
  /// std::nullopt when none does.
  std::optional<size_t> replica_of(size_t primary) const;

  /// Runs `argv` on node `i` over a fresh connection. Throws
  /// std::runtime_error when the node cannot be reached.
  resp_value command(size_t i, const std::vector<std::string>& argv) const;

  /// The node that serves `slot` by the `CLUSTER SLOTS` of the first running
  /// node that answers. Throws std::runtime_error when no node answers or the
  /// slot's primary is not one of the nodes.
  size_t owner_of(uint16_t slot) const;

  // -- waiting ----------------------------------------------------------------

  /// Waits until every running node says `cluster_state:ok`, its
  /// `CLUSTER SLOTS` covers all 16384 slots, and all of them give each slot
  /// the same primary. Throws std::runtime_error naming what is still
  /// missing after `limit`.
  void wait_healthy(std::chrono::milliseconds limit) const;

  /// Sends `CLUSTER FAILOVER` to node `replica` and waits, for at most 30 s,
  /// until it says master and every running node agrees in `CLUSTER SLOTS`
  /// that it serves slots. Throws std::runtime_error when `replica` is no
  /// replica, refuses, or is not promoted in time.
  void failover(size_t replica);

private:
  // Every running node, with how it is not healthy yet; empty when it is.
  std::string unhealthy() const;

  // Replicas whose link to their primary is not up yet, or that some
  // node's CLUSTER SLOTS does not list yet, by name.
  std::string unready_replicas() const;

  // Gives 1 or 2 primaries (no replicas) their slots and makes them meet.
  void assign_by_hand();

  // Runs redis-cli --cluster create; throws with its output on failure.
  void create(size_t replicas_per_primary,
              std::chrono::steady_clock::time_point deadline);

  std::string dir_;
  std::vector<std::unique_ptr<redis_process>> nodes_;
};

} // namespace cafcache
