#include <doctest/doctest.h>

#include "runtime/latency_histogram.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

TEST_CASE("percentiles of a known distribution") {
  latency_histogram h;
  CHECK(h.percentile_us(0.5) == 0);
  for (int i = 0; i < 90; ++i)
    h.record(100us);
  for (int i = 0; i < 10; ++i)
    h.record(10ms);
  CHECK(h.count() == 100);
  auto p50 = h.percentile_us(0.5);
  CHECK(p50 >= 100);
  CHECK(p50 <= 113);
  auto p99 = h.percentile_us(0.99);
  CHECK(p99 >= 10000);
  CHECK(p99 <= 11300);
}

TEST_CASE("small and huge values land in range") {
  latency_histogram h;
  h.record(0ns);
  h.record(-5ns);
  h.record(std::chrono::hours(1000000));
  CHECK(h.count() == 3);
  CHECK(h.percentile_us(0.1) == 1);
  CHECK(h.percentile_us(1.0) > 1000000);
}
