#include "http/metrics.hpp"

#include <caf/scoped_actor.hpp>

#include "messages/errc.hpp"

namespace cafcache {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using labels = std::vector<ClientMetric::Label>;

MetricFamily family(const char* name, const char* help, MetricType type) {
  MetricFamily out;
  out.name = std::string{"cafcache_"} + name;
  out.help = help;
  out.type = type;
  return out;
}

void add(MetricFamily& f, double value, labels ls = {}) {
  ClientMetric m;
  m.label = std::move(ls);
  if (f.type == MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

MetricFamily counter(const char* name, const char* help, uint64_t value) {
  auto f = family(name, help, MetricType::Counter);
  add(f, static_cast<double>(value));
  return f;
}

MetricFamily gauge(const char* name, const char* help, double value) {
  auto f = family(name, help, MetricType::Gauge);
  add(f, value);
  return f;
}

template <size_t N>
void add_histogram(MetricFamily& f, const bucket_histogram& h,
                   const std::array<double, N>& bounds, labels ls = {}) {
  ClientMetric m;
  m.label = std::move(ls);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= N; ++i) {
    cumulative += i < h.counts.size() ? h.counts[i] : 0;
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < N ? bounds[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = h.sum;
  f.metric.push_back(std::move(m));
}

/// Which outcomes an operation can have.
bool applies(metric_op op, metric_outcome outcome) {
  auto read = op == metric_op::get || op == metric_op::get_or_load;
  switch (outcome) {
    case metric_outcome::hit:
    case metric_outcome::miss:
      return read;
    case metric_outcome::redis:
    case metric_outcome::fallback:
      return !read;
    case metric_outcome::error:
      return true;
  }
  return false;
}

} // namespace

std::vector<MetricFamily> to_families(const metrics_report& x) {
  const auto& s = x.stats;
  std::vector<MetricFamily> out;
  out.push_back(gauge("up", "1 when the cache answered this scrape", 1));
  auto requests = family("requests_total",
                         "Requests answered, by operation and outcome (mget "
                         "and mset count once per key)",
                         MetricType::Counter);
  for (size_t op = 0; op < metric_op_count; ++op)
    for (size_t oc = 0; oc < metric_outcome_count; ++oc) {
      auto which = static_cast<metric_op>(op);
      auto outcome = static_cast<metric_outcome>(oc);
      if (!applies(which, outcome))
        continue;
      auto i = op * metric_outcome_count + oc;
      add(requests,
          static_cast<double>(i < x.requests.size() ? x.requests[i] : 0),
          {{"operation", to_string(which)}, {"outcome", to_string(outcome)}});
    }
  out.push_back(std::move(requests));
  auto hits = family("hits_total", "Values found, by tier",
                     MetricType::Counter);
  add(hits, static_cast<double>(s.hits_redis), {{"tier", "redis"}});
  add(hits, static_cast<double>(s.hits_fallback), {{"tier", "fallback"}});
  out.push_back(std::move(hits));
  out.push_back(counter("misses_total", "Lookups that found nothing",
                        s.misses));
  auto errors = family("errors_total", "Errors answered, by kind",
                       MetricType::Counter);
  for (size_t code = 0; code < x.errors.size(); ++code) {
    auto kind = code == 0 ? "other" : to_string(static_cast<errc>(code));
    add(errors, static_cast<double>(x.errors[code]), {{"kind", kind}});
  }
  out.push_back(std::move(errors));
  out.push_back(counter("redis_failures_total",
                        "Redis calls that failed or ran out of time",
                        s.redis_failures));
  out.push_back(counter("shed_requests_total",
                        "Requests a connection shed past max-pending",
                        s.shed_requests));
  out.push_back(counter("decode_errors_total",
                        "Values in Redis that did not decode",
                        s.decode_errors));
  out.push_back(counter("stale_served_total",
                        "Values served from the fallback because Redis "
                        "could not answer",
                        s.stale_served));
  out.push_back(counter("degraded_writes_total",
                        "Writes that went to the fallback only",
                        s.degraded_writes));
  out.push_back(counter("replayed_keys_total",
                        "Dirty keys deleted in Redis by replays",
                        s.replayed_keys));
  out.push_back(counter("namespace_flushes_total",
                        "Replays that flushed the namespace",
                        s.namespace_flushes));
  out.push_back(counter("slots_flushed_total",
                        "Redis Cluster slots whose keys were deleted on the "
                        "primary that took them over",
                        s.slots_flushed));
  out.push_back(counter("loads_total", "get_or_load loader calls", s.loads));
  out.push_back(counter("reconnects_total", "Successful reconnects to Redis",
                        s.reconnects));
  out.push_back(counter("peer_invalidations_total",
                        "Invalidations received from other nodes",
                        s.peer_invalidations));
  auto breaker = family("breaker_state",
                        "1 for the breaker's current state (route)",
                        MetricType::Gauge);
  for (auto state : {breaker_state::closed, breaker_state::open,
                     breaker_state::half_open})
    add(breaker, x.breaker == state ? 1 : 0, {{"state", to_string(state)}});
  out.push_back(std::move(breaker));
  auto transitions = family("breaker_transitions_total",
                            "Breaker transitions, by target state",
                            MetricType::Counter);
  add(transitions, static_cast<double>(s.breaker_opened),
      {{"state", to_string(breaker_state::open)}});
  add(transitions, static_cast<double>(s.breaker_half_opened),
      {{"state", to_string(breaker_state::half_open)}});
  add(transitions, static_cast<double>(s.breaker_closed),
      {{"state", to_string(breaker_state::closed)}});
  out.push_back(std::move(transitions));
  out.push_back(gauge("healthy", "1 while every request can take the Redis "
                                 "path", x.healthy ? 1 : 0));
  out.push_back(gauge("connected", "1 while a connection to Redis is up",
                      x.connected ? 1 : 0));
  out.push_back(gauge("fallback_entries", "Entries in the in-memory fallback",
                      static_cast<double>(s.fallback_entries)));
  out.push_back(gauge("fallback_bytes",
                      "Bytes (keys plus values) in the in-memory fallback",
                      static_cast<double>(s.fallback_bytes)));
  out.push_back(gauge("dirty_keys", "Keys waiting for replay to Redis",
                      static_cast<double>(s.dirty_keys)));
  auto latency = family("request_duration_seconds",
                        "Time from receiving a request to its answer, by "
                        "operation",
                        MetricType::Histogram);
  for (size_t op = 0; op < metric_op_count; ++op)
    add_histogram(latency,
                  op < x.latency.size() ? x.latency[op] : bucket_histogram{},
                  latency_bounds,
                  {{"operation", to_string(static_cast<metric_op>(op))}});
  out.push_back(std::move(latency));
  auto rtt = family("redis_roundtrip_seconds",
                    "Time from sending a command to Redis to its reply",
                    MetricType::Histogram);
  add_histogram(rtt, x.redis_latency, latency_bounds);
  out.push_back(std::move(rtt));
  auto batches = family("pipeline_batch_size",
                        "Commands per socket write on Redis connections",
                        MetricType::Histogram);
  add_histogram(batches, x.batch_sizes, batch_bounds);
  out.push_back(std::move(batches));
  if (x.nodes.empty())
    return out;
  // Redis Cluster: one series per primary, labelled "host:port".
  auto per_node = [&](const char* name, const char* help, auto value_of) {
    auto f = family(name, help, MetricType::Gauge);
    for (auto& node : x.nodes)
      add(f, static_cast<double>(value_of(node)), {{"node", node.node}});
    out.push_back(std::move(f));
  };
  per_node("cluster_node_healthy",
           "1 while every request of the primary's slots can take the Redis "
           "path",
           [](const node_status& n) { return n.healthy ? 1 : 0; });
  per_node("cluster_node_connected",
           "1 while a connection to the primary is up",
           [](const node_status& n) { return n.connected ? 1 : 0; });
  per_node("cluster_node_slots", "Hash slots the primary serves",
           [](const node_status& n) { return n.slots; });
  per_node("cluster_node_dirty_keys",
           "Keys of the primary waiting for replay",
           [](const node_status& n) { return n.dirty_keys; });
  per_node("cluster_node_fallback_entries",
           "Entries in the primary's fallback",
           [](const node_status& n) { return n.fallback_entries; });
  auto node_breaker = family("cluster_node_breaker_state",
                             "1 for the state of the primary's breaker",
                             MetricType::Gauge);
  for (auto& node : x.nodes)
    for (auto state : {breaker_state::closed, breaker_state::open,
                       breaker_state::half_open})
      add(node_breaker, node.breaker == state ? 1 : 0,
          {{"node", node.node}, {"state", to_string(state)}});
  out.push_back(std::move(node_breaker));
  return out;
}

cache_collector::cache_collector(caf::actor_system& sys, cache_actor cache,
                                 caf::timespan limit)
  : sys_(sys), cache_(std::move(cache)), limit_(limit) {
  // Nothing to do.
}

std::vector<MetricFamily> cache_collector::Collect() const {
  if (auto report = snapshot())
    return to_families(*report);
  return {gauge("up", "1 when the cache answered this scrape", 0)};
}

caf::expected<metrics_report> cache_collector::snapshot() const {
  caf::expected<metrics_report> out{caf::error{}};
  caf::scoped_actor self{sys_};
  self->request(cache_, limit_, metrics_atom::value)
    .receive([&](metrics_report& x) { out = std::move(x); },
             [&](caf::error& err) { out = std::move(err); });
  return out;
}

caf::expected<health_report> cache_collector::health() const {
  caf::expected<health_report> out{caf::error{}};
  caf::scoped_actor self{sys_};
  self->request(cache_, limit_, health_atom::value)
    .receive([&](health_report& x) { out = std::move(x); },
             [&](caf::error& err) { out = std::move(err); });
  return out;
}

} // namespace cafcache
