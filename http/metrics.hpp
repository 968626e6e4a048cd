#pragma once

#include <chrono>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "messages/interfaces.hpp"
#include "messages/metrics_report.hpp"

namespace cafcache {

/// The Prometheus metric families of `x`, every name prefixed `cafcache_`
/// (the list is in docs/operations.md, "Metrics, health and logs").
std::vector<prometheus::MetricFamily> to_families(const metrics_report& x);

/// A Prometheus collectable over a cache actor: each scrape asks the cache
/// for one `metrics_report` and converts it, so the request path keeps plain
/// counters in actor state and pays nothing for being observed.
class cache_collector : public prometheus::Collectable {
public:
  /// `limit` bounds each question to the cache.
  cache_collector(caf::actor_system& sys, cache_actor cache,
                  caf::timespan limit = std::chrono::seconds(1));

  /// The families of a fresh report; only `cafcache_up 0` when the cache
  /// did not answer within the limit.
  std::vector<prometheus::MetricFamily> Collect() const override;

  /// Asks the cache for its counters; the error when it does not answer.
  caf::expected<metrics_report> snapshot() const;

  /// Asks the cache for its health; the error when it does not answer.
  caf::expected<health_report> health() const;

private:
  caf::actor_system& sys_;
  cache_actor cache_;
  caf::timespan limit_;
};

} // namespace cafcache
