#include "runtime/circuit_breaker.hpp"

#include <algorithm>

#include "runtime/backoff.hpp"

namespace cafcache {

namespace {

using duration = circuit_breaker::duration;

duration initial_period(const breaker_settings& x) {
  return std::min<duration>(x.reset_timeout, x.max_reset_timeout);
}

} // namespace


circuit_breaker::circuit_breaker(breaker_settings settings, uint64_t seed)
  : settings_(settings), rng_(seed), open_period_(initial_period(settings)) {
  // nop
}

circuit_breaker::time_point circuit_breaker::next_deadline() const noexcept {
  return state_ == breaker_state::closed ? time_point::max() : deadline_;
}

bool circuit_breaker::on_success(time_point) {
  switch (state_) {
    case breaker_state::closed:
      failures_ = 0;
      return false;
    case breaker_state::half_open:
      failures_ = 0;
      open_period_ = initial_period(settings_);
      deadline_ = time_point::max();
      enter(breaker_state::closed);
      return true;
    case breaker_state::open:
      // A call that started before the breaker opened proves little.
      return false;
  }
  return false;
}

bool circuit_breaker::on_failure(time_point now) {
  switch (state_) {
    case breaker_state::closed:
      if (++failures_ < settings_.failure_threshold)
        return false;
      open(now);
      return true;
    case breaker_state::half_open:
      fail_probe(now);
      return true;
    case breaker_state::open:
      return false;
  }
  return false;
}

bool circuit_breaker::force_open(time_point now) {
  if (state_ != breaker_state::closed)
    return on_failure(now);
  open(now);
  return true;
}

bool circuit_breaker::on_tick(time_point now) {
  if (state_ == breaker_state::closed || now < deadline_)
    return false;
  if (state_ == breaker_state::open)
    half_open(now);
  else
    fail_probe(now);
  return true;
}

bool circuit_breaker::expedite(time_point now) {
  if (state_ != breaker_state::open)
    return false;
  half_open(now);
  return true;
}

void circuit_breaker::enter(breaker_state x) noexcept {
  state_ = x;
}

void circuit_breaker::open(time_point now) {
  deadline_ = now + apply_jitter(open_period_, settings_.jitter, rng_);
  enter(breaker_state::open);
}

void circuit_breaker::fail_probe(time_point now) {
  open_period_ = std::chrono::duration_cast<duration>(
    grow_capped(open_period_, settings_.backoff_factor,
                settings_.max_reset_timeout));
  open(now);
}

void circuit_breaker::half_open(time_point now) {
  deadline_ = now + settings_.max_half_open;
  enter(breaker_state::half_open);
}

} // namespace cafcache
