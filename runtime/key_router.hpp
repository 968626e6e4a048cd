#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace cafcache {

/// Which connection of a pool carries the commands of a key: the one rule the
/// cache's ordering guarantees rest on, for requests and for the replay.
///
/// Redis applies the commands of one connection in the order they were sent,
/// but gives no order across connections. So every command of a key goes over
/// one connection, its *owner*:
/// - while writes of the key are still in flight on a connection that is up,
///   that connection (a pin): a newer write sent elsewhere could be applied
///   before the older one;
/// - otherwise the pool's *active* slot. One connection carries every key;
///   the others stand by, connected, and take over at once when it drops, so
///   that one lost connection moves its keys to a live one instead of to the
///   fallback. The active slot changes only when it goes down (to the next
///   slot after it that is up); a slot that comes back does not take the
///   keys back.
///
/// One active connection instead of keys hashed over the pool: CAF 0.17 runs
/// every connection on its one I/O thread and redis-server serves them on one
/// thread too, so spreading the keys only split each pipelined batch in two
/// (2 connections against 1: 0.87x the GETs per second at 50 in flight and
/// 1.38x the CPU per GET, docs/benchmarks.md).
/// A pin lasts until the connection answered (or failed) the write, not until
/// the request's deadline: a write that ran out of time may still be in the
/// connection's pipeline.
class key_router {
public:
  /// A router over `slots` connections, all down.
  explicit key_router(size_t slots = 0);

  /// Number of slots.
  size_t size() const noexcept {
    return up_.size();
  }

  /// Marks `slot` up or down; out-of-range slots are ignored.
  void set_up(size_t slot, bool up);

  /// True when `slot` is up.
  bool is_up(size_t slot) const noexcept {
    return slot < up_.size() && up_[slot];
  }

  /// Number of slots up.
  size_t up_count() const noexcept {
    return up_count_;
  }

  /// The slot that carries the keys, or carried them last when none is up.
  size_t active() const noexcept {
    return active_;
  }

  /// The slot that carries `key`'s commands now, or nullopt when no slot is
  /// up.
  std::optional<size_t> owner(const std::string& key) const;

  /// A write of `key` went out on `slot`.
  void pin(const std::string& key, size_t slot);

  /// The connection on `slot` answered or failed a write of `key`.
  void unpin(const std::string& key, size_t slot);

  /// Keys with writes in flight (for tests and metrics).
  size_t pinned() const noexcept {
    return pins_.size();
  }

private:
  struct pin_state {
    size_t slot = 0;
    uint32_t count = 0;
  };

  std::vector<bool> up_;
  size_t up_count_ = 0;
  size_t active_ = 0;
  std::unordered_map<std::string, pin_state> pins_;
};

} // namespace cafcache
