#include "runtime/latency_histogram.hpp"

namespace cafcache {

size_t latency_histogram::index_of(uint64_t us) {
  if (us < sub_buckets)
    return us;
  // Octave = position of the highest bit above the sub-bucket bits; the next
  // three bits below it pick the sub-bucket.
  size_t high = 63 - static_cast<size_t>(__builtin_clzll(us));
  size_t octave = high - 2;
  size_t sub = (us >> (high - 3)) & (sub_buckets - 1);
  size_t index = octave * sub_buckets + sub;
  return index < sub_buckets * octaves ? index : sub_buckets * octaves - 1;
}

uint64_t latency_histogram::upper_bound_of(size_t index) {
  if (index < sub_buckets)
    return index + 1;
  size_t octave = index / sub_buckets;
  size_t sub = index % sub_buckets;
  size_t high = octave + 2;
  return ((sub_buckets + sub + 1) << (high - 3));
}

void latency_histogram::record(std::chrono::nanoseconds x) {
  auto us = x.count() < 0 ? 0 : static_cast<uint64_t>(x.count() / 1000);
  ++buckets_[index_of(us)];
  ++count_;
}

void latency_histogram::merge(const latency_histogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
}

uint64_t latency_histogram::percentile_us(double q) const {
  if (count_ == 0)
    return 0;
  auto target = static_cast<uint64_t>(q * static_cast<double>(count_));
  if (target == 0)
    target = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= target)
      return upper_bound_of(i);
  }
  return upper_bound_of(buckets_.size() - 1);
}

} // namespace cafcache
