#include "runtime/health_json.hpp"

#include <nlohmann/json.hpp>

namespace cafcache {

namespace {

nlohmann::json as_json(const stats_report& x) {
  auto hits = x.hits_redis + x.hits_fallback;
  auto lookups = hits + x.misses;
  return {
    {"requests", x.gets + x.sets + x.invalidations + x.tag_invalidations},
    {"gets", x.gets},
    {"sets", x.sets},
    {"invalidations", x.invalidations},
    {"tag_invalidations", x.tag_invalidations},
    {"hits", hits},
    {"hits_redis", x.hits_redis},
    {"hits_fallback", x.hits_fallback},
    {"misses", x.misses},
    {"hit_rate", lookups == 0 ? 0.0
                              : static_cast<double>(hits)
                                  / static_cast<double>(lookups)},
    {"errors", x.errors},
    {"redis_failures", x.redis_failures},
    {"shed_requests", x.shed_requests},
    {"decode_errors", x.decode_errors},
    {"stale_served", x.stale_served},
    {"degraded_writes", x.degraded_writes},
    {"replayed_keys", x.replayed_keys},
    {"replayed_tags", x.replayed_tags},
    {"peer_invalidations", x.peer_invalidations},
    {"coherence_gaps", x.coherence_gaps},
    {"dataset_changes", x.dataset_changes},
    {"namespace_flushes", x.namespace_flushes},
    {"slots_flushed", x.slots_flushed},
    {"get_or_loads", x.get_or_loads},
    {"loads", x.loads},
    {"coalesced", x.coalesced},
    {"breaker_opened", x.breaker_opened},
    {"breaker_half_opened", x.breaker_half_opened},
    {"breaker_closed", x.breaker_closed},
    {"reconnects", x.reconnects},
    {"latency_p50_us", x.latency_p50_us},
    {"latency_p99_us", x.latency_p99_us},
    {"fallback_entries", x.fallback_entries},
    {"fallback_bytes", x.fallback_bytes},
    {"dirty_keys", x.dirty_keys},
  };
}

} // namespace

std::string to_json(const health_report& report) {
  nlohmann::json out{
    {"healthy", report.healthy},
    {"connected", report.connected},
    {"subscribed", report.subscribed},
    {"breaker", to_string(report.breaker)},
    {"redis", report.redis},
    {"last_error", report.last_error},
    {"stats", as_json(report.stats)},
  };
  if (!report.nodes.empty()) {
    auto& nodes = out["nodes"] = nlohmann::json::array();
    for (auto& x : report.nodes)
      nodes.push_back({
        {"node", x.node},
        {"slots", x.slots},
        {"healthy", x.healthy},
        {"connected", x.connected},
        {"breaker", to_string(x.breaker)},
        {"last_error", x.last_error},
        {"fallback_entries", x.fallback_entries},
        {"dirty_keys", x.dirty_keys},
      });
  }
  return out.dump();
}

std::string to_json(const stats_report& stats) {
  return as_json(stats).dump();
}

} // namespace cafcache
