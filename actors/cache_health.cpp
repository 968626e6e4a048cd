// The cache actor's health report and counters (see actors/cache.hpp).

#include "actors/cache.hpp"

#include <algorithm>

#include "messages/errc.hpp"

namespace cafcache {

// -- health and stats ---------------------------------------------------------

caf::result<stats_report> cache_state::stats() {
  auto rp = self_->make_response_promise<stats_report>();
  auto report = stats_;
  report.latency_p50_us = latency_.percentile_us(0.50);
  report.latency_p99_us = latency_.percentile_us(0.99);
  self_->request(fallback_, std::chrono::seconds(1), stats_atom::value)
    .then(
      [=](const fallback_stats& fb) mutable {
        report.fallback_entries = fb.entries;
        report.fallback_bytes = fb.bytes;
        report.dirty_keys = fb.dirty_keys;
        rp.deliver(report);
      },
      [=](caf::error&) mutable { rp.deliver(report); });
  return rp;
}

caf::result<health_report> cache_state::health() {
  auto rp = self_->make_response_promise<health_report>();
  health_report report;
  report.connected = static_cast<bool>(any_connection());
  report.subscribed = subscribed_;
  report.breaker = route_;
  // Healthy means every request can take the Redis path: all connections up,
  // breaker closed, nothing waiting for replay.
  auto all_up = std::all_of(conns_.begin(), conns_.end(),
                            [](const caf::actor& x) { return x != nullptr; });
  report.healthy = all_up && route_ == breaker_state::closed && !needs_replay_;
  report.redis = redis_redacted_;
  report.last_error = conn_error_ ? to_sentence(conn_error_) : std::string{};
  self_->request(caf::actor_cast<cache_actor>(self_), std::chrono::seconds(1),
                 stats_atom::value)
    .then(
      [=](stats_report& stats) mutable {
        report.stats = std::move(stats);
        rp.deliver(report);
      },
      [=](caf::error&) mutable { rp.deliver(report); });
  return rp;
}

} // namespace cafcache
