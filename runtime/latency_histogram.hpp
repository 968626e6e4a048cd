#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace cafcache {

/// Log-linear latency histogram in microseconds: constant memory, O(1)
/// recording, percentiles within one sub-bucket (about 12 %) of the truth.
class latency_histogram {
public:
  /// Records one observation.
  void record(std::chrono::nanoseconds x);

  /// Adds every observation of `other`.
  void merge(const latency_histogram& other);

  /// The smallest bucket bound below which at least `q` (0..1) of all
  /// observations fall; 0 when empty.
  uint64_t percentile_us(double q) const;

  /// Number of observations.
  uint64_t count() const {
    return count_;
  }

private:
  static constexpr size_t sub_buckets = 8;
  static constexpr size_t octaves = 40;

  static size_t index_of(uint64_t us);

  static uint64_t upper_bound_of(size_t index);

  std::array<uint64_t, sub_buckets * octaves> buckets_{};
  uint64_t count_ = 0;
};

} // namespace cafcache
