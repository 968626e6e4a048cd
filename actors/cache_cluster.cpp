// The cache of one Redis Cluster primary: what differs from a single Redis.
// The cluster actor (actors/cluster) routes each key to the cache of the
// primary that owns its slot and moves slots between these caches when the
// slot map changes; see docs/architecture.md, "Redis Cluster".

#include "actors/cache.hpp"

#include "runtime/cluster_errors.hpp"

namespace cafcache {

void cache_state::on_own(caf::actor cluster, bool flush) {
  cluster_ = caf::actor_cast<cluster_actor>(std::move(cluster));
  if (!flush)
    return;
  // The slots' previous owner may have acknowledged writes this node never
  // received (asynchronous replication before a failover, or writes its
  // fallback took while it was unreachable). Deleting every key of ours on
  // this node before it is read again is the rule that needs no list of
  // them; the fallback may hold entries from an earlier ownership.
  log_.write(log_level::warn, "slots_acquired",
             {{"redis", redis_redacted_}, {"flush", "true"}});
  self_->send(fallback_, clear_atom::value);
  guard_.invalidated_all();
  dirty_batch everything;
  everything.overflowed = true;
  ++dirty_since_drain_;
  needs_replay_ = true;
  self_->send(fallback_, dirty_atom::value, std::move(everything));
  maybe_recover();
}

void cache_state::on_disown() {
  log_.write(log_level::info, "slots_released", {{"redis", redis_redacted_}});
  self_->send(fallback_, clear_atom::value);
  guard_.invalidated_all();
}

bool cache_state::redirected(std::string_view error_text) {
  if (!slot_elsewhere(error_text))
    return false;
  ask_for_slot_map();
  return true;
}

void cache_state::ask_for_slot_map() {
  // The cluster actor spaces the fetches; this is one message per event.
  if (cluster_)
    self_->send(cluster_, refresh_atom::value);
}

std::vector<std::vector<std::string>>
cache_state::unlink_commands(std::vector<std::string> keys) const {
  std::vector<std::vector<std::string>> result;
  if (keys.empty())
    return result;
  if (!cluster_) {
    result.emplace_back();
    result.back().reserve(keys.size() + 1);
    result.back().push_back("UNLINK");
    for (auto& key : keys)
      result.back().push_back(std::move(key));
    return result;
  }
  result.reserve(keys.size());
  for (auto& key : keys)
    result.push_back({"UNLINK", std::move(key)});
  return result;
}

bool cache_state::unlinked(const resp_value& reply) const {
  return !reply.is_error() || (cluster_ && slot_elsewhere(reply.str));
}

} // namespace cafcache
