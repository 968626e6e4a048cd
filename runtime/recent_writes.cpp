#include "runtime/recent_writes.hpp"

#include <unordered_set>

namespace cafcache {

void recent_writes::add(const std::string& name, bool is_tag,
                        time_point now) {
  if (window_.count() == 0)
    return;
  expire(now);
  if (entries_.size() >= max_) {
    // Naming every key no longer fits: a flush covers them all until the
    // log again holds every write of a whole window (those since now).
    entries_.clear();
    overflowed_ = true;
    overflowed_at_ = now;
  }
  entries_.push_back(entry{now, is_tag, name});
}

void recent_writes::expire(time_point now) {
  while (!entries_.empty() && now - entries_.front().at > window_)
    entries_.pop_front();
  if (overflowed_ && now - overflowed_at_ > window_)
    overflowed_ = false;
}

dirty_batch recent_writes::written_since(time_point now) {
  expire(now);
  dirty_batch out;
  out.overflowed = overflowed_;
  if (overflowed_)
    return out;
  std::unordered_set<std::string> keys;
  std::unordered_set<std::string> tags;
  for (auto& x : entries_) {
    auto& seen = x.is_tag ? tags : keys;
    if (seen.insert(x.name).second)
      (x.is_tag ? out.tags : out.keys).push_back(x.name);
  }
  return out;
}

} // namespace cafcache
