#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "messages/types.hpp"

namespace cafcache {

/// Tuning of a circuit_breaker; the defaults live in the project config.
struct breaker_settings {
  /// Consecutive failures that open the breaker.
  uint32_t failure_threshold;
  /// First open period.
  std::chrono::milliseconds reset_timeout;
  /// Cap for the growing open period.
  std::chrono::milliseconds max_reset_timeout;
  /// Open period multiplier after a failed probe.
  double backoff_factor;
  /// +- fraction applied to each open period, 0..1.
  double jitter;
  /// Half-open gives up (reopens, counts as a failed probe) after this long
  /// without a probe result.
  std::chrono::milliseconds max_half_open;
};

/// A circuit breaker driven by explicit time points, so that it holds no
/// timers itself and tests control time. Not thread-safe: meant to be owned by
/// a single actor.
class circuit_breaker {
public:
  // -- member types -----------------------------------------------------------

  /// Monotonic, so that wall-clock jumps cannot shorten an open period.
  using clock = std::chrono::steady_clock;

  /// Point in time on `clock`.
  using time_point = clock::time_point;

  /// Time span on `clock`.
  using duration = clock::duration;

  // -- constructors -----------------------------------------------------------

  /// Creates a closed breaker; `seed` makes the jitter reproducible.
  circuit_breaker(breaker_settings settings, uint64_t seed);

  // -- observers --------------------------------------------------------------

  /// Returns the current state.
  breaker_state state() const noexcept {
    return state_;
  }

  /// Returns the next time on_tick must be called (time_point::max() when
  /// closed).
  time_point next_deadline() const noexcept;

  /// Returns the open period the breaker will use (or uses now) before jitter.
  duration current_reset_timeout() const noexcept {
    return open_period_;
  }

  /// Returns the number of failures in a row since the breaker last closed or
  /// saw a success.
  uint32_t consecutive_failures() const noexcept {
    return failures_;
  }

  // -- modifiers --------------------------------------------------------------

  /// Reports a successful call or probe. Returns true when the state changed
  /// (half_open -> closed, which also resets the open period and the failure
  /// count).
  bool on_success(time_point now);

  /// Reports a failed call. Closed: counts consecutive failures and opens at
  /// the threshold. Half-open: a failed probe, reopens with a grown period.
  /// Open: ignored. Returns true when the state changed.
  bool on_failure(time_point now);

  /// Forces the breaker open now because the connection is known to be down;
  /// from half_open this counts as a failed probe. Returns true when the state
  /// changed.
  bool force_open(time_point now);

  /// Drives time: open -> half_open once the open period ended, half_open ->
  /// open (as a failed probe) once max_half_open passed. Returns true when the
  /// state changed.
  bool on_tick(time_point now);

  /// Skips the rest of the open period because the connection just came back:
  /// open -> half_open now. Returns true when the state changed.
  bool expedite(time_point now);

private:
  // -- utility ----------------------------------------------------------------

  void enter(breaker_state x) noexcept;

  void open(time_point now);

  void fail_probe(time_point now);

  void half_open(time_point now);

  // -- member variables -------------------------------------------------------

  breaker_settings settings_;
  std::mt19937_64 rng_;
  breaker_state state_ = breaker_state::closed;
  uint32_t failures_ = 0;
  duration open_period_;
  /// End of the open period or of the half-open period, by state.
  time_point deadline_ = time_point::max();
};

} // namespace cafcache
