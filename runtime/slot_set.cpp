#include "runtime/slot_set.hpp"

#include <algorithm>

#include "runtime/cluster_slots.hpp"

namespace cafcache {

size_t slot_set::add(const std::vector<uint16_t>& slots) {
  if (member_.empty())
    member_.resize(cluster_slot_count, false);
  size_t added = 0;
  for (auto slot : slots)
    if (slot < cluster_slot_count && !member_[slot]) {
      member_[slot] = true;
      order_.push_back(slot);
      ++added;
    }
  return added;
}

std::vector<uint16_t> slot_set::peek(size_t n) const {
  n = std::min(n, order_.size());
  return std::vector<uint16_t>(order_.end() - static_cast<ptrdiff_t>(n),
                               order_.end());
}

void slot_set::erase(uint16_t slot) {
  if (slot >= member_.size() || !member_[slot])
    return;
  member_[slot] = false;
  order_.erase(std::find(order_.begin(), order_.end(), slot));
}

} // namespace cafcache
