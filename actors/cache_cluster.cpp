// The cache of one Redis Cluster primary: what differs from a single Redis.
// The cluster actor (actors/cluster) routes each key to the cache of the
// primary that owns its slot and moves slots between these caches when the
// slot map changes; see docs/architecture.md, "Redis Cluster".

#include "actors/cache.hpp"

#include <algorithm>
#include <memory>

#include "runtime/cluster_errors.hpp"
#include "runtime/cluster_slots.hpp"

namespace cafcache {

void cache_state::on_own(caf::actor cluster, bool flush,
                         std::vector<uint16_t> slots) {
  cluster_ = caf::actor_cast<cluster_actor>(std::move(cluster));
  if (!flush || slots.empty())
    return;
  // The slots' previous owner may have acknowledged writes this node never
  // received (asynchronous replication before a failover, or writes its
  // fallback took while it was unreachable). Deleting this node's keys in
  // those slots before it is read again is the rule that needs no list of
  // them; the fallback may hold entries from an earlier ownership.
  if (flush_pending_.empty())
    flush_pending_.resize(cluster_slot_count, false);
  size_t added = 0;
  for (auto slot : slots)
    if (slot < cluster_slot_count && !flush_pending_[slot]) {
      flush_pending_[slot] = true;
      slots_to_flush_.push_back(slot);
      ++added;
    }
  log_.write(log_level::warn, "slots_acquired",
             {{"redis", redis_redacted_},
              {"slots", std::to_string(slots.size())},
              {"to_flush", std::to_string(slots_to_flush_.size())}});
  self_->send(fallback_, disown_atom::value, std::move(slots));
  guard_.invalidated_all();
  needs_replay_ = true;
  maybe_recover();
}

void cache_state::on_disown(std::vector<uint16_t> slots) {
  log_.write(log_level::info, "slots_released",
             {{"redis", redis_redacted_},
              {"slots", std::to_string(slots.size())}});
  self_->send(fallback_, disown_atom::value, std::move(slots));
  guard_.invalidated_all();
}

void cache_state::flush_slots(bool probe, caf::actor conn) {
  // Up to `parallel` slots at a time; a slot with a full page of keys is
  // asked again (CLUSTER GETKEYSINSLOT returns at most `page` of them).
  constexpr size_t parallel = 64;
  constexpr size_t page = 1000;
  struct join_state {
    size_t left = 0;
    bool ok = true;
    std::vector<uint16_t> done;
  };
  auto join = std::make_shared<join_state>();
  auto n = std::min(parallel, slots_to_flush_.size());
  std::vector<uint16_t> batch(slots_to_flush_.end() - n,
                              slots_to_flush_.end());
  join->left = batch.size();
  auto finish = [=](uint16_t slot, bool ok, bool complete) {
    join->ok = join->ok && ok;
    if (ok && complete)
      join->done.push_back(slot);
    if (--join->left > 0)
      return;
    for (auto x : join->done) {
      flush_pending_[x] = false;
      slots_to_flush_.erase(
        std::find(slots_to_flush_.begin(), slots_to_flush_.end(), x));
      ++stats_.slots_flushed;
    }
    if (!join->ok) {
      replay_done(probe, false, nullptr);
      return;
    }
    replay_step(probe, conn);
  };
  for (auto slot : batch) {
    std::vector<std::string> argv{"CLUSTER", "GETKEYSINSLOT",
                                  std::to_string(slot), std::to_string(page)};
    self_->request(conn, cfg_.probe_timeout, cmd_atom::value, std::move(argv))
      .then(
        [=](resp_value& reply) {
          if (reply.type != resp_value::kind::array) {
            finish(slot, false, false);
            return;
          }
          auto complete = reply.elements.size() < page;
          // Only our keys: the prefix is the namespace.
          std::vector<std::string> keys;
          for (auto& key : reply.elements)
            if (key.str.compare(0, cfg_.key_prefix.size(), cfg_.key_prefix)
                == 0)
              keys.push_back(std::move(key.str));
          if (keys.empty()) {
            finish(slot, true, complete);
            return;
          }
          stats_.replayed_keys += keys.size();
          auto unlinks = unlink_commands(std::move(keys));
          auto left = std::make_shared<size_t>(unlinks.size());
          auto ok = std::make_shared<bool>(true);
          for (auto& cmd : unlinks)
            self_->request(conn, cfg_.probe_timeout, cmd_atom::value,
                           std::move(cmd))
              .then(
                [=](resp_value& r) {
                  *ok = *ok && unlinked(r);
                  if (--*left == 0)
                    finish(slot, *ok, complete);
                },
                [=](caf::error&) {
                  *ok = false;
                  if (--*left == 0)
                    finish(slot, false, false);
                });
        },
        [=](caf::error&) { finish(slot, false, false); });
  }
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
