#pragma once

#include "messages/metrics_report.hpp"
#include "messages/types.hpp"

namespace cafcache {

/// The reports of a Redis Cluster's node caches folded into one, as the
/// cache actor answers `stats`, `health` and `metrics`: counters and
/// sizes add up, latency percentiles take the worst node's, a flag that
/// says "all is well" holds when it holds on every node, `connected` when
/// any node is, and the breaker shows the worst route (open over half-open
/// over closed).
void merge_into(stats_report& total, const stats_report& x);

void merge_into(metrics_report& total, const metrics_report& x);

/// `last_error` keeps the first node's error, prefixed with that node
/// (`node_name`, "host:port"); `redis` is left to the caller.
void merge_into(health_report& total, const health_report& x,
                const std::string& node_name);

/// The starting value for `merge_into`: zero counters, flags that the first
/// node's report sets.
stats_report empty_stats();
metrics_report empty_metrics();
health_report empty_health();

} // namespace cafcache
