#pragma once

#include <cstddef>
#include <vector>

namespace cafcache {

/// When a new cache is ready, so that `spawn_cache` may return: once every
/// pool slot has connected and, with coherence, the subscription has an
/// outcome, or as soon as one slot failed. A request routed to a slot still
/// connecting would degrade needlessly, and values stored before the
/// subscription would be dropped by coherence's gap rule. Decided once.
///
/// Each call returns true when it is the one that decides.
class readiness {
public:
  readiness() = default;

  readiness(size_t slots, bool needs_subscription);

  /// Pool slot `slot` finished its handshake.
  bool slot_connected(size_t slot);

  /// A pool slot failed to connect or was lost.
  bool slot_failed();

  /// The subscription was confirmed, or its connection failed.
  bool subscription_reported();

  /// Whether readiness was decided.
  bool decided() const noexcept {
    return decided_;
  }

private:
  bool decide();
  bool complete() const;

  std::vector<bool> connected_;
  bool needs_subscription_ = false;
  bool subscription_reported_ = false;
  bool decided_ = false;
};

} // namespace cafcache
