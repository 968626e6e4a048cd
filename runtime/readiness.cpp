#include "runtime/readiness.hpp"

#include <algorithm>

namespace cafcache {

readiness::readiness(size_t slots, bool needs_subscription)
  : connected_(slots, false), needs_subscription_(needs_subscription) {
  // Nothing to do.
}

bool readiness::slot_connected(size_t slot) {
  if (slot < connected_.size())
    connected_[slot] = true;
  return complete() && decide();
}

bool readiness::slot_failed() {
  return decide();
}

bool readiness::subscription_reported() {
  subscription_reported_ = true;
  return complete() && decide();
}

bool readiness::decide() {
  if (decided_)
    return false;
  decided_ = true;
  return true;
}

bool readiness::complete() const {
  return std::all_of(connected_.begin(), connected_.end(),
                     [](bool x) { return x; })
         && (!needs_subscription_ || subscription_reported_);
}

} // namespace cafcache
