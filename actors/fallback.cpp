#include "actors/fallback.hpp"

#include "runtime/cluster_slots.hpp"

#include <caf/send.hpp>

#include "runtime/codec.hpp"
#include "runtime/get_reply.hpp"

namespace cafcache {

void fallback_state::init(const config& cfg) {
  prefix_ = cfg.key_prefix;
  cache_.emplace(cfg.fallback_max_entries, cfg.fallback_max_bytes);
  dirty_max_ = cfg.dirty_max_keys;
}

std::vector<std::string> fallback_state::lookup(const std::string& key) {
  if (auto value = cache_->get(key, clock::now()))
    return {std::string{*value}};
  return {};
}

get_result fallback_state::serve(get_job& job, caf::timespan now) {
  auto reading = read_fallback_entry(cache_->get(job.key, clock::now()),
                                     job.redis_failed);
  served_request x;
  x.key = std::move(job.key);
  x.correlation_id = std::move(job.correlation_id);
  x.kind = reading.kind;
  x.latency = now - job.start;
  served_.push_back(std::move(x));
  return std::move(reading.answer);
}

void fallback_state::store(std::string key, std::string stored,
                           caf::timespan ttl, bool dirty) {
  if (dirty)
    mark_dirty(key);
  auto now = clock::now();
  cache_->put(std::move(key), std::move(stored),
             now + std::chrono::duration_cast<clock::duration>(ttl), now);
}

void fallback_state::erase(const std::string& key, bool dirty) {
  if (dirty)
    mark_dirty(key);
  cache_->erase(key);
}

void fallback_state::erase_tag(const std::string& tag, bool dirty) {
  if (dirty)
    mark_dirty_tag(tag);
  cache_->erase_if([&tag](std::string_view, std::string_view stored) {
    return has_tag(stored, tag);
  });
}

void fallback_state::clear() {
  // A key in the dirty log holds a write this node acknowledged from here
  // alone: the newest value it has for the key, served (marked stale) until
  // the replay deletes the key in Redis. It stays; the rest goes.
  if (dirty_.empty()) {
    cache_->clear();
    return;
  }
  cache_->erase_if([this](std::string_view key, std::string_view) {
    return dirty_.count(std::string{key}) == 0;
  });
}

void fallback_state::set_bounds(uint64_t entries, uint64_t bytes) {
  cache_->set_bounds(entries, bytes, clock::now());
}

void fallback_state::erase_slots(const std::vector<uint16_t>& slots) {
  std::vector<bool> gone(cluster_slot_count, false);
  for (auto slot : slots)
    if (slot < cluster_slot_count)
      gone[slot] = true;
  cache_->erase_if([&](std::string_view key, std::string_view) {
    return gone[key_slot(prefix_, key)];
  });
}

dirty_batch fallback_state::drain(uint32_t n) {
  dirty_batch out;
  out.overflowed = overflowed_;
  overflowed_ = false;
  auto t = dirty_tags_.begin();
  while (t != dirty_tags_.end() && out.tags.size() < n)
    out.tags.push_back(std::move(dirty_tags_.extract(t++).value()));
  auto i = dirty_.begin();
  while (i != dirty_.end() && out.keys.size() < n) {
    out.keys.push_back(std::move(dirty_.extract(i++).value()));
  }
  return out;
}

void fallback_state::restore(dirty_batch batch) {
  overflowed_ = overflowed_ || batch.overflowed;
  for (auto& key : batch.keys)
    mark_dirty(key);
  for (auto& tag : batch.tags)
    mark_dirty_tag(tag);
}

fallback_stats fallback_state::stats() const {
  return {cache_->size(), cache_->bytes(), dirty_.size() + dirty_tags_.size(),
          cache_->evictions()};
}

void fallback_state::mark_dirty(const std::string& key) {
  if (overflowed_)
    return;
  if (log_full() && dirty_.count(key) == 0) {
    overflow();
    return;
  }
  dirty_.insert(key);
}

void fallback_state::mark_dirty_tag(const std::string& tag) {
  if (overflowed_)
    return;
  if (log_full() && dirty_tags_.count(tag) == 0) {
    overflow();
    return;
  }
  dirty_tags_.insert(tag);
}

bool fallback_state::log_full() const {
  return dirty_.size() + dirty_tags_.size() >= dirty_max_;
}

void fallback_state::overflow() {
  // The log can no longer name every dirty key: recovery flushes the whole
  // namespace instead (tag sets included), so the entries are useless.
  dirty_.clear();
  dirty_tags_.clear();
  overflowed_ = true;
}

fallback_actor::behavior_type
fallback(fallback_actor::stateful_pointer<fallback_state> self, config cfg,
         cache_internal_actor cache) {
  self->state.init(cfg);
  auto flush = [=] {
    if (self->state.has_served())
      caf::unsafe_send_as(self, cache, served_atom::value,
                          self->state.take_served());
  };
  return {
    [=](get_atom, get_job& job) {
      // The answer leaves before its report: once the cache has the report
      // it may finish a shutdown.
      auto rp = self->make_response_promise<get_result>();
      rp.deliver(self->state.serve(job, self->clock().now().time_since_epoch()));
      if (self->mailbox().empty()
          || self->state.served_count() >= max_served_batch)
        flush();
      return rp;
    },
    [=](served_atom) {
      flush();
      return true;
    },
    [=](get_atom, const std::string& key) {
      return self->state.lookup(key);
    },
    [=](put_atom, std::string& key, std::string& stored, caf::timespan ttl,
        bool dirty) {
      self->state.store(std::move(key), std::move(stored), ttl, dirty);
    },
    [=](put_atom, std::vector<mirror_entry>& entries) {
      for (auto& x : entries)
        if (x.stored.empty())
          self->state.erase(x.key, false);
        else
          self->state.store(std::move(x.key), std::move(x.stored), x.ttl,
                            false);
    },
    [=](delete_atom, const std::string& key, bool dirty) {
      self->state.erase(key, dirty);
    },
    [=](delete_atom, tag_atom, const std::string& tag, bool dirty) {
      self->state.erase_tag(tag, dirty);
    },
    [=](clear_atom) { self->state.clear(); },
    [=](bounds_atom, uint64_t entries, uint64_t bytes) {
      self->state.set_bounds(entries, bytes);
    },
    [=](disown_atom, const std::vector<uint16_t>& slots) {
      self->state.erase_slots(slots);
    },
    [=](drain_atom, uint32_t n) { return self->state.drain(n); },
    [=](dirty_atom, dirty_batch& batch) {
      self->state.restore(std::move(batch));
    },
    [=](stats_atom) { return self->state.stats(); },
  };
}

} // namespace cafcache
