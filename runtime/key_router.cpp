#include "runtime/key_router.hpp"

#include <functional>

namespace cafcache {

key_router::key_router(size_t slots) : up_(slots, false) {
  // Nothing else to do.
}

void key_router::set_up(size_t slot, bool up) {
  if (slot >= up_.size() || up_[slot] == up)
    return;
  up_[slot] = up;
  if (up)
    ++up_count_;
  else
    --up_count_;
}

size_t key_router::home(std::string_view key) const {
  return up_.empty() ? 0 : std::hash<std::string_view>{}(key) % up_.size();
}

std::optional<size_t> key_router::owner(const std::string& key) const {
  if (up_count_ == 0)
    return std::nullopt;
  if (!pins_.empty()) {
    auto i = pins_.find(key);
    if (i != pins_.end() && up_[i->second.slot])
      return i->second.slot;
  }
  auto start = home(key);
  for (size_t i = 0; i < up_.size(); ++i) {
    auto slot = (start + i) % up_.size();
    if (up_[slot])
      return slot;
  }
  return std::nullopt;
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
