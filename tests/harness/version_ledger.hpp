#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cafcache {

/// Bookkeeping of the chaos run: which version of each key was acknowledged
/// last, so that a read can tell whether the cache served something older
/// than an acknowledged write or invalidate. Each key has one writer at a
/// time (its owner issues the next write only after the previous answer), so
/// the acknowledged versions of a key grow in the order Redis applied them.
/// Thread-safe: requesters run on several scheduler threads.
class version_ledger {
public:
  explicit version_ledger(size_t keys);

  /// A fresh version, larger than every one handed out before.
  uint64_t next_version() noexcept {
    return ++last_;
  }

  /// The highest version of `key` whose write or invalidate was answered.
  uint64_t floor(size_t key) const noexcept {
    return floors_[key].load();
  }

  /// The write or invalidate of `key` with `version` was answered.
  void acknowledge(size_t key, uint64_t version) noexcept;

  /// The value stored for `version`: "v<version>|" padded to `size` bytes.
  static std::string value_of(uint64_t version, size_t size);

  /// The version in a value written by value_of, nullopt for anything else.
  static std::optional<uint64_t> version_of(std::string_view value);

  /// True unless a read that started when the floor was `floor` returned a
  /// value older than it. A miss is always allowed: the cache may lose data,
  /// never serve an outdated one.
  static bool read_ok(std::optional<uint64_t> returned, uint64_t floor) {
    return !returned || *returned >= floor;
  }

private:
  std::atomic<uint64_t> last_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> floors_;
};

} // namespace cafcache
