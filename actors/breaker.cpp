#include "actors/breaker.hpp"

#include <random>

namespace cafcache {

void breaker_actor_state::init(const config& cfg, cache_internal_actor cache) {
  breaker_.emplace(cfg.breaker(), std::random_device{}());
  cache_ = std::move(cache);
}

void breaker_actor_state::on_outcome(uint32_t failures, bool then_success) {
  // Outside of closed, only the probe decides: late answers to calls made
  // before the breaker opened must not close it.
  auto now = self_->clock().now();
  for (uint32_t i = 0; i < failures; ++i) {
    if (breaker_->state() != breaker_state::closed)
      return;
    after(breaker_->on_failure(now));
  }
  if (then_success && breaker_->state() == breaker_state::closed)
    after(breaker_->on_success(now));
}

void breaker_actor_state::on_probe(bool success) {
  if (breaker_->state() != breaker_state::half_open)
    return;
  auto now = self_->clock().now();
  after(success ? breaker_->on_success(now) : breaker_->on_failure(now));
}

void breaker_actor_state::on_connection(bool up) {
  auto now = self_->clock().now();
  after(up ? breaker_->expedite(now) : breaker_->force_open(now));
}

void breaker_actor_state::on_tick(uint64_t generation) {
  if (generation != timer_generation_)
    return;
  timer_at_ = clock::time_point::max();
  after(breaker_->on_tick(self_->clock().now()));
}

void breaker_actor_state::after(bool changed) {
  auto state = breaker_->state();
  // The cache runs the one probe of each half-open period it is told of.
  if (changed)
    self_->send(cache_, route_atom::value, state);
  auto deadline = breaker_->next_deadline();
  if (deadline == timer_at_)
    return;
  timer_at_ = deadline;
  ++timer_generation_;
  if (deadline == clock::time_point::max())
    return;
  auto delay = deadline - self_->clock().now();
  if (delay < clock::duration::zero())
    delay = clock::duration::zero();
  self_->delayed_send(self_, delay, half_open_atom::value, timer_generation_);
}

breaker_actor::behavior_type
breaker(breaker_actor::stateful_pointer<breaker_actor_state> self, config cfg,
        cache_internal_actor cache) {
  self->state.init(cfg, std::move(cache));
  return {
    [=](outcome_atom, uint32_t failures, bool then_success) {
      self->state.on_outcome(failures, then_success);
    },
    [=](probe_atom, bool success) { self->state.on_probe(success); },
    [=](conn_atom, bool up) { self->state.on_connection(up); },
    [=](half_open_atom, uint64_t generation) { self->state.on_tick(generation); },
  };
}

} // namespace cafcache
