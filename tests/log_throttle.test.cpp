#include <doctest/doctest.h>

#include "runtime/log_throttle.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

TEST_CASE("log_throttle: a burst per second passes, the rest is counted and "
          "reported by the next line that passes") {
  log_throttle t{3};
  log_throttle::clock::time_point t0{};
  t0 += 10s;
  uint64_t held = 99;
  for (int i = 0; i < 3; ++i) {
    CHECK(t.admit(t0 + i * 1ms, held));
    CHECK(held == 0);
  }
  for (int i = 0; i < 1000; ++i)
    CHECK_FALSE(t.admit(t0 + 500ms, held));
  // Still inside the window.
  CHECK_FALSE(t.admit(t0 + 999ms, held));
  // A new window: the first line carries the count.
  CHECK(t.admit(t0 + 1s, held));
  CHECK(held == 1001);
  CHECK(t.admit(t0 + 1s + 1ms, held));
  CHECK(held == 0);
}

TEST_CASE("log_throttle: burst 0 lets everything through") {
  log_throttle t{0};
  uint64_t held = 7;
  for (int i = 0; i < 100; ++i) {
    CHECK(t.admit(log_throttle::clock::time_point{}, held));
    CHECK(held == 0);
  }
}
