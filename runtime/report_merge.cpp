#include "runtime/report_merge.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace cafcache {

namespace {

/// Collects the address of every counter of a report through its `inspect`
/// function, so that a counter added there is merged without a second list.
struct counter_fields {
  using result_type = void;

  std::vector<uint64_t*> fields;

  template <class... Ts>
  void operator()(Ts&&... xs) {
    (add(std::forward<Ts>(xs)), ...);
  }

  void add(uint64_t& x) {
    fields.push_back(&x);
  }

  template <class T>
  void add(T&&) {
    // The type name: not a counter.
  }
};

std::vector<uint64_t*> counters_of(stats_report& x) {
  counter_fields f;
  inspect(f, x);
  return std::move(f.fields);
}

void add_vectors(std::vector<uint64_t>& total, const std::vector<uint64_t>& x) {
  if (total.size() < x.size())
    total.resize(x.size(), 0);
  for (size_t i = 0; i < x.size(); ++i)
    total[i] += x[i];
}

int severity(breaker_state x) {
  switch (x) {
    case breaker_state::closed:
      return 0;
    case breaker_state::half_open:
      return 1;
    case breaker_state::open:
      return 2;
  }
  return 2;
}

breaker_state worse(breaker_state x, breaker_state y) {
  return severity(x) >= severity(y) ? x : y;
}

} // namespace

stats_report empty_stats() {
  return stats_report{};
}

void merge_into(stats_report& total, const stats_report& x) {
  auto p50 = std::max(total.latency_p50_us, x.latency_p50_us);
  auto p99 = std::max(total.latency_p99_us, x.latency_p99_us);
  auto copy = x;
  auto to = counters_of(total);
  auto from = counters_of(copy);
  for (size_t i = 0; i < to.size() && i < from.size(); ++i)
    *to[i] += *from[i];
  total.latency_p50_us = p50;
  total.latency_p99_us = p99;
}

metrics_report empty_metrics() {
  metrics_report x;
  x.healthy = true;
  x.connected = false;
  return x;
}

void merge_into(metrics_report& total, const metrics_report& x) {
  merge_into(total.stats, x.stats);
  total.healthy = total.healthy && x.healthy;
  total.connected = total.connected || x.connected;
  total.breaker = worse(total.breaker, x.breaker);
  add_vectors(total.requests, x.requests);
  add_vectors(total.errors, x.errors);
  if (total.latency.size() < x.latency.size())
    total.latency.resize(x.latency.size());
  for (size_t i = 0; i < x.latency.size(); ++i)
    total.latency[i].merge(x.latency[i]);
  total.redis_latency.merge(x.redis_latency);
  total.batch_sizes.merge(x.batch_sizes);
}

health_report empty_health() {
  health_report x;
  x.healthy = true;
  x.connected = false;
  x.subscribed = true;
  return x;
}

void merge_into(health_report& total, const health_report& x,
                const std::string& node_name) {
  total.healthy = total.healthy && x.healthy;
  total.connected = total.connected || x.connected;
  total.subscribed = total.subscribed && x.subscribed;
  total.breaker = worse(total.breaker, x.breaker);
  if (total.last_error.empty() && !x.last_error.empty())
    total.last_error = fmt::format("{}: {}", node_name, x.last_error);
  merge_into(total.stats, x.stats);
}

} // namespace cafcache
