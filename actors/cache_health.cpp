// The cache actor's health report, counters and metrics (see
// actors/cache.hpp).

#include "actors/cache.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "messages/errc.hpp"

namespace cafcache {

// -- health and stats ---------------------------------------------------------

caf::result<stats_report> cache_state::stats() {
  auto rp = self_->make_response_promise<stats_report>();
  // Connections report the gets they answered in batches: each sends what it
  // holds first (its batch arrives before its reply), so that a get answered
  // before this request is counted in it.
  std::vector<caf::actor> conns;
  for (size_t slot = 0; slot < conns_.size(); ++slot)
    if (conns_[slot] && router_.is_up(slot))
      conns.push_back(conns_[slot]);
  // The fallback reports the gets it answered the same way.
  conns.push_back(caf::actor_cast<caf::actor>(fallback_));
  auto left = std::make_shared<size_t>(conns.size());
  auto one_done = [this, rp, left]() mutable {
    if (--*left == 0)
      report_stats(rp);
  };
  for (auto& conn : conns)
    self_->request(conn, std::chrono::seconds(1), served_atom::value)
      .then([one_done](bool) mutable { one_done(); },
            [one_done](caf::error&) mutable { one_done(); });
  return rp;
}

void cache_state::report_stats(caf::typed_response_promise<stats_report> rp) {
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
}

health_report cache_state::current_health() const {
  health_report report;
  report.connected = static_cast<bool>(any_connection());
  report.subscribed = subscribed_;
  report.breaker = route_;
  // Healthy means every request can take the Redis path: all connections up,
  // breaker closed, nothing waiting for replay.
  auto all_up = router_.up_count() == router_.size();
  // Without the subscription, other nodes' writes no longer reach this
  // node's fallback: that is not healthy either.
  report.healthy = all_up && route_ == breaker_state::closed && !needs_replay_
                   && (!coherent_mode() || subscribed_);
  report.redis = redis_redacted_;
  auto& last = conn_error_ ? conn_error_ : last_refusal_;
  report.last_error = !last ? std::string{} : log_text(last);
  // An unhealthy report says why, also when no error is on record.
  if (!report.healthy && report.last_error.empty()) {
    if (!all_up)
      report.last_error = fmt::format("{} of {} connections to Redis are up",
                                      router_.up_count(), router_.size());
    else if (route_ != breaker_state::closed)
      report.last_error = fmt::format("the breaker is {}", to_string(route_));
    else if (needs_replay_)
      report.last_error = "writes the fallback took wait for their replay";
    else
      report.last_error = "the coherence subscription is not confirmed";
  }
  if (cfg_.backend_type() == backend_kind::memory) {
    // No Redis by design: the configured tier answers every request.
    report.healthy = true;
    report.redis.clear();
    report.last_error.clear();
  }
  return report;
}

caf::result<health_report> cache_state::health() {
  auto rp = self_->make_response_promise<health_report>();
  auto report = current_health();
  // This node cache's stats, behind the batches its actors send first.
  self_->request(caf::actor_cast<cache_internal_actor>(self_),
                 std::chrono::seconds(1), stats_atom::value, index_)
    .then(
      [=](stats_report& stats) mutable {
        report.stats = std::move(stats);
        rp.deliver(report);
      },
      [=](caf::error&) mutable { rp.deliver(report); });
  return rp;
}

// -- metrics ------------------------------------------------------------------

void cache_state::on_batch_sizes(const bucket_histogram& counts) {
  batch_sizes_.merge(counts);
}

caf::result<metrics_report> cache_state::metrics() {
  auto rp = self_->make_response_promise<metrics_report>();
  // Redis connections count their batch sizes themselves; collect what they
  // counted since the last scrape, then the counters.
  std::vector<caf::actor> conns;
  if (cfg_.backend_type() == backend_kind::redis)
    for (auto& conn : conns_)
      if (conn)
        conns.push_back(conn);
  auto left = std::make_shared<size_t>(conns.size() + 1);
  auto collected = [this, rp, left]() mutable {
    if (--*left > 0)
      return;
    metrics_report report;
    auto flags = current_health();
    report.healthy = flags.healthy;
    report.connected = flags.connected;
    report.breaker = flags.breaker;
    report.requests.assign(requests_.begin(), requests_.end());
    report.errors.assign(errors_by_code_.begin(), errors_by_code_.end());
    report.latency.assign(op_latency_.begin(), op_latency_.end());
    report.redis_latency = redis_latency_;
    report.batch_sizes = batch_sizes_;
    self_->request(caf::actor_cast<cache_internal_actor>(self_),
                   std::chrono::seconds(1), stats_atom::value, index_)
      .then(
        [=](stats_report& stats) mutable {
          report.stats = std::move(stats);
          rp.deliver(std::move(report));
        },
        [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  };
  for (auto& conn : conns)
    self_->request(conn, std::chrono::seconds(1), batch_sizes_atom::value)
      .then(
        [this, collected](bucket_histogram& counts) mutable {
          batch_sizes_.merge(counts);
          collected();
        },
        [collected](caf::error&) mutable { collected(); });
  collected();
  return rp;
}

// -- counting -----------------------------------------------------------------

void cache_state::observe(const operation& op, metric_outcome outcome) {
  auto elapsed = self_->clock().now() - op.start;
  if (op.internal)
    latency_.record(elapsed);
  else
    observe(metric_of(op), outcome, elapsed, op.correlation_id);
}

void cache_state::observe(metric_op which, metric_outcome outcome,
                          caf::timespan elapsed,
                          const std::string& correlation_id) {
  latency_.record(elapsed);
  auto index = static_cast<size_t>(which);
  ++requests_[index * metric_outcome_count + static_cast<size_t>(outcome)];
  record_latency(op_latency_[index], elapsed);
  if (log_.enabled(log_level::debug)) {
    auto us = std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
    log_.write(log_level::debug, "request",
               {{"op", to_string(which)},
                {"outcome", to_string(outcome)},
                {"us", us},
                {"correlation_id", correlation_id}});
  }
}

metric_op cache_state::metric_of(const operation& op) {
  if (op.flight)
    return metric_op::get_or_load;
  switch (op.what) {
    case operation::kind::get:
      return metric_op::get;
    case operation::kind::set:
      return metric_op::set;
    case operation::kind::invalidate:
      return metric_op::invalidate;
    case operation::kind::invalidate_tag:
      return metric_op::invalidate_tag;
  }
  return metric_op::get;
}

void cache_state::count_error(const caf::error& err) {
  ++stats_.errors;
  size_t code = code_of(err);
  ++errors_by_code_[code < errors_by_code_.size() ? code : 0];
}

caf::error cache_state::refuse(metric_op which, caf::error err,
                               const std::string& correlation_id) {
  count_error(err);
  ++requests_[static_cast<size_t>(which) * metric_outcome_count
              + static_cast<size_t>(metric_outcome::error)];
  warn_request(refused_lines_, "request_refused", which, err, correlation_id);
  return err;
}

void cache_state::warn_request(log_throttle& lines, const char* event,
                               metric_op which, const caf::error& err,
                               const std::string& correlation_id) {
  uint64_t held = 0;
  if (!log_.enabled(log_level::warn)
      || !lines.admit(self_->clock().now(), held))
    return;
  log_.write(log_level::warn, event,
             {{"op", to_string(which)},
              {"error", to_sentence(err)},
              {"correlation_id", correlation_id},
              {"suppressed", held > 0 ? std::to_string(held) : std::string{}}});
}

} // namespace cafcache
