#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace cafcache {

/// Scales `x` by a uniform random factor in [1 - jitter, 1 + jitter] so that
/// many clients do not retry in lockstep; `jitter` is clamped to [0, 1].
std::chrono::nanoseconds apply_jitter(std::chrono::nanoseconds x,
                                      double jitter, std::mt19937_64& rng);

/// `x` times `factor`, at most `cap`: the one rule for growing delays (the
/// reconnect backoff and the breaker's open period). Computed in floating
/// point so that large factors cannot overflow.
std::chrono::nanoseconds grow_capped(std::chrono::nanoseconds x, double factor,
                                     std::chrono::nanoseconds cap);

/// Exponential backoff with +-jitter for reconnect attempts.
class backoff {
public:
  // -- constructors -----------------------------------------------------------

  /// Starts at `initial`, multiplies by `factor` per attempt up to `max` and
  /// applies +-`jitter` (a fraction) drawn from a generator seeded by `seed`.
  backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          double factor, double jitter, uint64_t seed);

  // -- modifiers --------------------------------------------------------------

  /// Returns the delay before the next attempt; grows by factor up to max
  /// (before jitter).
  std::chrono::milliseconds next();

  /// Goes back to the initial delay (after a successful attempt).
  void reset();

private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double factor_;
  double jitter_;
  std::chrono::milliseconds current_;
  std::mt19937_64 rng_;
};

} // namespace cafcache
