#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/types.hpp"

namespace cafcache {

/// Counts of observations in fixed buckets, the form Prometheus histograms
/// take. Recording is a short scan over the bounds and two additions, so the
/// actors that own one keep it as plain state and nobody else touches it.
struct bucket_histogram {
  /// Observations at most `bounds[i]`, not cumulative; the last element
  /// counts those above every bound. Empty until the first observation.
  std::vector<uint64_t> counts;
  /// Sum of every observation, in the histogram's unit.
  double sum = 0;

  /// Records `x` against `bounds` (ascending).
  template <size_t N>
  void record(double x, const std::array<double, N>& bounds) {
    if (counts.empty())
      counts.resize(N + 1, 0);
    size_t i = 0;
    while (i < N && x > bounds[i])
      ++i;
    ++counts[i];
    sum += x;
  }

  /// Adds every observation of `other` (recorded against the same bounds).
  void merge(const bucket_histogram& other);

  /// Returns the observations so far and starts over.
  bucket_histogram take();

  /// Number of observations.
  uint64_t count() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, bucket_histogram& x) {
  return f(caf::meta::type_name("cafcache.bucket_histogram"), x.counts, x.sum);
}

/// Bucket bounds of request and Redis round-trip latencies, in seconds.
constexpr std::array<double, 16> latency_bounds{
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
  0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0};

/// Bucket bounds of pipeline batch sizes (commands per socket write).
constexpr std::array<double, 11> batch_bounds{1,  2,   4,   8,   16,  32,
                                              64, 128, 256, 512, 1024};

/// Records a duration in seconds against `latency_bounds`.
inline void record_latency(bucket_histogram& h, caf::timespan x) {
  h.record(std::chrono::duration<double>(x).count(), latency_bounds);
}

/// The operations `requests` and `request_latency` are counted by. mget and
/// mset count as one get or set per key.
enum class metric_op : uint8_t {
  get,
  set,
  invalidate,
  invalidate_tag,
  get_or_load,
};

constexpr size_t metric_op_count = 5;

/// Returns "get", "set", "invalidate", "invalidate_tag" or "get_or_load".
const char* to_string(metric_op x);

/// How a request ended: reads hit or miss, writes went to Redis or to the
/// fallback only; anything answered with an error is `error`.
enum class metric_outcome : uint8_t {
  hit,
  miss,
  redis,
  fallback,
  error,
};

constexpr size_t metric_outcome_count = 5;

/// Returns "hit", "miss", "redis", "fallback" or "error".
const char* to_string(metric_outcome x);

/// Everything `/metrics` shows, taken from the cache actor in one message at
/// scrape time.
struct metrics_report {
  /// The counters and gauges of `stats`.
  stats_report stats;
  /// The health flags of `health`.
  bool healthy = false;
  bool connected = false;
  breaker_state breaker = breaker_state::closed;
  /// Requests by operation and outcome: index `op * metric_outcome_count +
  /// outcome`.
  std::vector<uint64_t> requests;
  /// Errors answered, by `errc` code (index 0: errors of other categories).
  std::vector<uint64_t> errors;
  /// Request latency by operation (seconds), indexed by `metric_op`.
  std::vector<bucket_histogram> latency;
  /// Time from sending a command to Redis to its reply (seconds).
  bucket_histogram redis_latency;
  /// Commands per socket write on Redis connections.
  bucket_histogram batch_sizes;
  /// Redis Cluster: each primary, by name (no `last_error`).
  std::vector<node_status> nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metrics_report& x) {
  return f(caf::meta::type_name("cafcache.metrics_report"), x.stats,
           x.healthy, x.connected, x.breaker, x.requests, x.errors, x.latency,
           x.redis_latency, x.batch_sizes, x.nodes);
}

} // namespace cafcache
