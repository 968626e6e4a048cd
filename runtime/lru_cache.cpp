#include "runtime/lru_cache.hpp"

namespace cafcache {

lru_cache::lru_cache(size_t max_entries, size_t max_bytes)
  : max_entries_(max_entries), max_bytes_(max_bytes) {
  // nop
}

const std::string* lru_cache::peek(std::string_view key,
                                   time_point now) const {
  auto i = index_.find(key);
  if (i == index_.end() || expired(*i->second, now))
    return nullptr;
  return &i->second->value;
}

const std::string* lru_cache::get(std::string_view key, time_point now) {
  auto i = index_.find(key);
  if (i == index_.end())
    return nullptr;
  auto pos = i->second;
  if (expired(*pos, now)) {
    remove(pos);
    ++expirations_;
    return nullptr;
  }
  entries_.splice(entries_.begin(), entries_, pos);
  return &pos->value;
}

bool lru_cache::put(std::string key, std::string value, time_point expires,
                    time_point now) {
  auto needed = key.size() + value.size();
  auto i = index_.find(key);
  if (needed > max_bytes_ || max_entries_ == 0) {
    if (i != index_.end())
      remove(i->second);
    return false;
  }
  if (i != index_.end()) {
    // Updating in place keeps the node, so the index view stays valid.
    auto pos = i->second;
    bytes_ -= payload(*pos);
    pos->value = std::move(value);
    pos->expires = expires;
    entries_.splice(entries_.begin(), entries_, pos);
  } else {
    entries_.push_front(entry{std::move(key), std::move(value), expires});
    auto pos = entries_.begin();
    index_.emplace(std::string_view{pos->key}, pos);
  }
  bytes_ += needed;
  // The new entry fits on its own, so the loop stops before reaching it.
  while (entries_.size() > max_entries_ || bytes_ > max_bytes_) {
    auto victim = std::prev(entries_.end());
    if (expired(*victim, now))
      ++expirations_;
    else
      ++evictions_;
    remove(victim);
  }
  return true;
}

bool lru_cache::erase(std::string_view key) {
  auto i = index_.find(key);
  if (i == index_.end())
    return false;
  remove(i->second);
  return true;
}

size_t lru_cache::purge_expired(time_point now) {
  size_t removed = 0;
  for (auto pos = entries_.begin(); pos != entries_.end();) {
    auto next = std::next(pos);
    if (expired(*pos, now)) {
      remove(pos);
      ++removed;
    }
    pos = next;
  }
  expirations_ += removed;
  return removed;
}

void lru_cache::clear() {
  index_.clear();
  entries_.clear();
  bytes_ = 0;
}

void lru_cache::remove(entry_list::iterator pos) {
  // The index entry must go first: its key views the node's key.
  index_.erase(std::string_view{pos->key});
  bytes_ -= payload(*pos);
  entries_.erase(pos);
}

} // namespace cafcache
