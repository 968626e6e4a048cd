#include "runtime/backoff.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace cafcache;
using namespace std::chrono_literals;

TEST_CASE("backoff: grows by the factor up to the cap") {
  backoff uut{100ms, 1000ms, 2.0, 0.0, 1};
  CHECK_EQ(uut.next(), 100ms);
  CHECK_EQ(uut.next(), 200ms);
  CHECK_EQ(uut.next(), 400ms);
  CHECK_EQ(uut.next(), 800ms);
  CHECK_EQ(uut.next(), 1000ms);
  CHECK_EQ(uut.next(), 1000ms);
}

TEST_CASE("backoff: reset goes back to the initial delay") {
  backoff uut{100ms, 1000ms, 3.0, 0.0, 1};
  uut.next();
  CHECK_EQ(uut.next(), 300ms);
  uut.reset();
  CHECK_EQ(uut.next(), 100ms);
  CHECK_EQ(uut.next(), 300ms);
}

TEST_CASE("backoff: an initial delay above the cap starts at the cap") {
  backoff uut{5000ms, 1000ms, 2.0, 0.0, 1};
  CHECK_EQ(uut.next(), 1000ms);
  CHECK_EQ(uut.next(), 1000ms);
}

TEST_CASE("backoff: a huge factor does not overflow") {
  backoff uut{1ms, 1h, 1e30, 0.0, 1};
  CHECK_EQ(uut.next(), 1ms);
  CHECK_EQ(uut.next(), 1h);
  CHECK_EQ(uut.next(), 1h);
}

TEST_CASE("backoff: jitter stays within +-fraction and varies") {
  auto min = std::chrono::milliseconds::max();
  auto max = std::chrono::milliseconds::min();
  for (uint64_t seed = 0; seed < 200; ++seed) {
    backoff uut{1000ms, 4000ms, 2.0, 0.25, seed};
    for (auto base : {1000ms, 2000ms, 4000ms, 4000ms}) {
      auto delay = uut.next();
      CHECK_GE(delay, base * 3 / 4);
      CHECK_LE(delay, base * 5 / 4);
      if (base == 1000ms) {
        min = std::min(min, delay);
        max = std::max(max, delay);
      }
    }
  }
  CHECK_LT(min, 800ms);
  CHECK_GT(max, 1200ms);
}

TEST_CASE("apply_jitter: zero jitter is exact and a jitter above 1 is capped") {
  std::mt19937_64 rng{7};
  CHECK_EQ(apply_jitter(123456789ns, 0.0, rng), 123456789ns);
  for (int i = 0; i < 1000; ++i) {
    auto x = apply_jitter(1s, 5.0, rng);
    CHECK_GE(x, 0s);
    CHECK_LE(x, 2s);
  }
}
