#pragma once

#include <optional>

#include "messages/internal.hpp"
#include "runtime/circuit_breaker.hpp"
#include "runtime/config.hpp"

namespace cafcache {

/// State of the breaker actor: owns the circuit_breaker state machine, drives
/// its timers and pushes every transition to the cache actor as a route.
class breaker_actor_state {
public:
  // -- constructors ---------------------------------------------------------

  explicit breaker_actor_state(breaker_actor::stateful_pointer<
                               breaker_actor_state> self)
    : self_(self) {
    // Nothing to do.
  }

  /// Sets up the state machine and the cache actor that receives routes.
  void init(const config& cfg, cache_internal_actor cache);

  // -- callbacks for the behavior -------------------------------------------

  /// `failures` regular calls failed in a row, then one succeeded when
  /// `then_success` (ignored outside of closed).
  void on_outcome(uint32_t failures, bool then_success);

  /// The half-open probe succeeded or failed.
  void on_probe(bool success);

  /// The supervisor saw a connection go up or down.
  void on_connection(bool up);

  /// A timer fired.
  void on_tick(uint64_t generation);

  /// The name CAF shows for this actor.
  static inline const char* name = "cafcache.breaker";

private:
  using clock = circuit_breaker::clock;

  /// Pushes the state to the cache actor if it changed and re-arms the timer.
  void after(bool changed);

  breaker_actor::stateful_pointer<breaker_actor_state> self_;
  std::optional<circuit_breaker> breaker_;
  cache_internal_actor cache_;
  uint64_t timer_generation_ = 0;
  clock::time_point timer_at_ = clock::time_point::max();
};

/// Spawnable behavior of the breaker actor.
breaker_actor::behavior_type
breaker(breaker_actor::stateful_pointer<breaker_actor_state> self,
        config cfg, cache_internal_actor cache);

} // namespace cafcache
