#include "runtime/key_router.hpp"

namespace cafcache {

key_router::key_router(size_t slots) : up_(slots, false) {
  // Nothing else to do.
}

void key_router::set_up(size_t slot, bool up) {
  if (slot >= up_.size() || up_[slot] == up)
    return;
  up_[slot] = up;
  if (up) {
    // The first slot up after none was becomes active.
    if (++up_count_ == 1)
      active_ = slot;
    return;
  }
  --up_count_;
  if (slot != active_ || up_count_ == 0)
    return;
  for (size_t i = 1; i < up_.size(); ++i) {
    auto next = (slot + i) % up_.size();
    if (up_[next]) {
      active_ = next;
      return;
    }
  }
}

std::optional<size_t> key_router::owner(const std::string& key) const {
  if (up_count_ == 0)
    return std::nullopt;
  if (!pins_.empty()) {
    auto i = pins_.find(key);
    if (i != pins_.end() && up_[i->second.slot])
      return i->second.slot;
  }
  return active_;
}

void key_router::pin(const std::string& key, size_t slot) {
  auto& x = pins_[key];
  if (x.count > 0 && x.slot != slot) {
    // The previous pin's connection is down (owner() moved on): its writes
    // fail on their own; the key follows the newest write.
    x.count = 0;
  }
  x.slot = slot;
  ++x.count;
}

void key_router::unpin(const std::string& key, size_t slot) {
  auto i = pins_.find(key);
  if (i == pins_.end() || i->second.slot != slot)
    return;
  if (--i->second.count == 0)
    pins_.erase(i);
}

} // namespace cafcache
