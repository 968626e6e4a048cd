#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cafcache {

/// Redis Cluster slots waiting for one thing each, in the order they came,
/// every slot at most once: the slots whose keys a node cache still has to
/// delete on its node before it reads Redis again (actors/cache_cluster).
class slot_set {
public:
  /// Adds the slots not in the set yet (out-of-range ones are ignored);
  /// returns how many were added.
  size_t add(const std::vector<uint16_t>& slots);

  /// Up to `n` slots of the set, the newest first; they stay in the set.
  std::vector<uint16_t> peek(size_t n) const;

  /// Takes `slot` out of the set (nothing when it is not in it).
  void erase(uint16_t slot);

  bool empty() const noexcept {
    return order_.empty();
  }

  size_t size() const noexcept {
    return order_.size();
  }

private:
  std::vector<uint16_t> order_;
  std::vector<bool> member_;
};

} // namespace cafcache
