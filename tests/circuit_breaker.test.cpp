#include "runtime/circuit_breaker.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

using time_point = circuit_breaker::time_point;

const time_point t0 = time_point{} + 1h;

breaker_settings test_settings(double jitter = 0.0) {
  return breaker_settings{3, 1000ms, 8000ms, 2.0, jitter, 500ms};
}

// Drives a fresh breaker from closed to open at `now`.
void trip(circuit_breaker& uut, time_point now) {
  for (int i = 0; i < 3; ++i)
    uut.on_failure(now);
  REQUIRE_EQ(uut.state(), breaker_state::open);
}

} // namespace

TEST_CASE("breaker: to_string") {
  CHECK_EQ(std::string{to_string(breaker_state::closed)}, "closed");
  CHECK_EQ(std::string{to_string(breaker_state::open)}, "open");
  CHECK_EQ(std::string{to_string(breaker_state::half_open)}, "half-open");
}

TEST_CASE("breaker: starts closed without a deadline") {
  circuit_breaker uut{test_settings(), 1};
  CHECK_EQ(uut.state(), breaker_state::closed);
  CHECK_EQ(uut.next_deadline(), time_point::max());
  CHECK_EQ(uut.current_reset_timeout(), 1000ms);
  CHECK_FALSE(uut.on_tick(t0 + 1000h));
  CHECK_FALSE(uut.expedite(t0));
}

TEST_CASE("breaker: opens exactly at the failure threshold") {
  circuit_breaker uut{test_settings(), 1};
  CHECK_FALSE(uut.on_failure(t0));
  CHECK_FALSE(uut.on_failure(t0));
  CHECK_EQ(uut.state(), breaker_state::closed);
  CHECK_EQ(uut.consecutive_failures(), 2u);
  CHECK(uut.on_failure(t0));
  CHECK_EQ(uut.state(), breaker_state::open);
  CHECK_EQ(uut.next_deadline(), t0 + 1000ms);
}

TEST_CASE("breaker: a success in between resets the failure count") {
  circuit_breaker uut{test_settings(), 1};
  uut.on_failure(t0);
  uut.on_failure(t0);
  CHECK_FALSE(uut.on_success(t0));
  CHECK_EQ(uut.consecutive_failures(), 0u);
  CHECK_FALSE(uut.on_failure(t0));
  CHECK_FALSE(uut.on_failure(t0));
  CHECK_EQ(uut.state(), breaker_state::closed);
  CHECK(uut.on_failure(t0));
  CHECK_EQ(uut.state(), breaker_state::open);
}

TEST_CASE("breaker: stays open until the reset timeout, then half-opens") {
  circuit_breaker uut{test_settings(), 1};
  trip(uut, t0);
  CHECK_FALSE(uut.on_failure(t0 + 10ms));
  CHECK_FALSE(uut.on_success(t0 + 10ms));
  CHECK_FALSE(uut.on_tick(t0 + 999ms));
  CHECK_EQ(uut.state(), breaker_state::open);
  CHECK(uut.on_tick(t0 + 1000ms));
  CHECK_EQ(uut.state(), breaker_state::half_open);
  CHECK_EQ(uut.next_deadline(), t0 + 1500ms);
  CHECK_FALSE(uut.on_tick(t0 + 1000ms));
}

TEST_CASE("breaker: a successful probe closes and resets") {
  circuit_breaker uut{test_settings(), 1};
  trip(uut, t0);
  uut.on_tick(t0 + 1s);
  CHECK(uut.on_failure(t0 + 1100ms));
  uut.on_tick(t0 + 3100ms);
  REQUIRE_EQ(uut.state(), breaker_state::half_open);
  CHECK_EQ(uut.current_reset_timeout(), 2000ms);
  CHECK(uut.on_success(t0 + 3200ms));
  CHECK_EQ(uut.state(), breaker_state::closed);
  CHECK_EQ(uut.consecutive_failures(), 0u);
  CHECK_EQ(uut.current_reset_timeout(), 1000ms);
  CHECK_EQ(uut.next_deadline(), time_point::max());
  CHECK_FALSE(uut.on_tick(t0 + 1000h));
  // The count starts over, and the next open period is the first one again.
  CHECK_FALSE(uut.on_failure(t0 + 4s));
  CHECK_FALSE(uut.on_failure(t0 + 4s));
  CHECK(uut.on_failure(t0 + 4s));
  CHECK_EQ(uut.next_deadline(), t0 + 5s);
}

TEST_CASE("breaker: failed probes grow the open period up to the cap") {
  circuit_breaker uut{test_settings(), 1};
  auto now = t0;
  trip(uut, now);
  CHECK_EQ(uut.current_reset_timeout(), 1000ms);
  for (auto expected : {2000ms, 4000ms, 8000ms, 8000ms, 8000ms}) {
    now = uut.next_deadline();
    REQUIRE(uut.on_tick(now));
    now += 100ms;
    CHECK(uut.on_failure(now));
    CHECK_EQ(uut.state(), breaker_state::open);
    CHECK_EQ(uut.current_reset_timeout(), expected);
    CHECK_EQ(uut.next_deadline(), now + expected);
  }
}

TEST_CASE("breaker: max_half_open without a probe result reopens") {
  circuit_breaker uut{test_settings(), 1};
  trip(uut, t0);
  uut.on_tick(t0 + 1s);
  CHECK_FALSE(uut.on_tick(t0 + 1499ms));
  CHECK_EQ(uut.state(), breaker_state::half_open);
  CHECK(uut.on_tick(t0 + 1500ms));
  CHECK_EQ(uut.state(), breaker_state::open);
  CHECK_EQ(uut.current_reset_timeout(), 2000ms);
  CHECK_EQ(uut.next_deadline(), t0 + 3500ms);
}

TEST_CASE("breaker: force_open") {
  circuit_breaker uut{test_settings(), 1};
  CHECK(uut.force_open(t0));
  CHECK_EQ(uut.state(), breaker_state::open);
  CHECK_EQ(uut.current_reset_timeout(), 1000ms);
  CHECK_EQ(uut.next_deadline(), t0 + 1s);
  CHECK_FALSE(uut.force_open(t0 + 10ms));
  CHECK_EQ(uut.next_deadline(), t0 + 1s);
  uut.on_tick(t0 + 1s);
  REQUIRE_EQ(uut.state(), breaker_state::half_open);
  // From half-open it counts as a failed probe.
  CHECK(uut.force_open(t0 + 1200ms));
  CHECK_EQ(uut.state(), breaker_state::open);
  CHECK_EQ(uut.current_reset_timeout(), 2000ms);
  CHECK_EQ(uut.next_deadline(), t0 + 3200ms);
}

TEST_CASE("breaker: expedite skips the rest of the open period") {
  circuit_breaker uut{test_settings(), 1};
  trip(uut, t0);
  CHECK(uut.expedite(t0 + 10ms));
  CHECK_EQ(uut.state(), breaker_state::half_open);
  CHECK_EQ(uut.next_deadline(), t0 + 510ms);
  CHECK_FALSE(uut.expedite(t0 + 20ms));
  CHECK(uut.on_success(t0 + 30ms));
  CHECK_EQ(uut.state(), breaker_state::closed);
  CHECK_FALSE(uut.expedite(t0 + 40ms));
}

TEST_CASE("breaker: jitter stays within +-fraction and varies by seed") {
  auto lo = t0 + 800ms;
  auto hi = t0 + 1200ms;
  time_point min = time_point::max();
  time_point max = time_point::min();
  for (uint64_t seed = 0; seed < 500; ++seed) {
    circuit_breaker uut{test_settings(0.2), seed};
    trip(uut, t0);
    auto deadline = uut.next_deadline();
    CHECK_GE(deadline, lo);
    CHECK_LE(deadline, hi);
    min = std::min(min, deadline);
    max = std::max(max, deadline);
  }
  // Jitter that is always zero would defeat its purpose.
  CHECK_LT(min, t0 + 850ms);
  CHECK_GT(max, t0 + 1150ms);
}

TEST_CASE("breaker: the same seed yields the same jitter") {
  circuit_breaker a{test_settings(0.5), 42};
  circuit_breaker b{test_settings(0.5), 42};
  trip(a, t0);
  trip(b, t0);
  CHECK_EQ(a.next_deadline(), b.next_deadline());
}
