#include "runtime/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace cafcache {

std::chrono::nanoseconds apply_jitter(std::chrono::nanoseconds x,
                                      double jitter, std::mt19937_64& rng) {
  jitter = std::clamp(jitter, 0.0, 1.0);
  if (jitter == 0.0)
    return x;
  std::uniform_real_distribution<double> dist{-jitter, jitter};
  auto scaled = static_cast<double>(x.count()) * (1.0 + dist(rng));
  return std::chrono::nanoseconds{static_cast<int64_t>(scaled)};
}

std::chrono::nanoseconds grow_capped(std::chrono::nanoseconds x, double factor,
                                     std::chrono::nanoseconds cap) {
  auto grown = static_cast<double>(x.count()) * factor;
  if (grown >= static_cast<double>(cap.count()))
    return cap;
  return std::chrono::nanoseconds{std::llround(grown)};
}

backoff::backoff(std::chrono::milliseconds initial,
                 std::chrono::milliseconds max, double factor, double jitter,
                 uint64_t seed)
  : initial_(std::min(initial, max)),
    max_(max),
    factor_(factor),
    jitter_(jitter),
    current_(initial_),
    rng_(seed) {
  // nop
}

std::chrono::milliseconds backoff::next() {
  auto result = current_;
  current_ = std::chrono::round<std::chrono::milliseconds>(
    grow_capped(current_, factor_, max_));
  return std::chrono::duration_cast<std::chrono::milliseconds>(
    apply_jitter(result, jitter_, rng_));
}

void backoff::reset() {
  current_ = initial_;
}

} // namespace cafcache
