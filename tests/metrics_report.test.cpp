// Fixed-bucket histograms as the actors keep them.

#include <doctest/doctest.h>

#include "messages/metrics_report.hpp"

using namespace cafcache;

TEST_CASE("bucket histograms count by upper bound, merge and start over") {
  bucket_histogram h;
  CHECK(h.count() == 0);
  h.record(1, batch_bounds);    // le 1
  h.record(2, batch_bounds);    // le 2
  h.record(3, batch_bounds);    // le 4
  h.record(4096, batch_bounds); // above every bound
  REQUIRE(h.counts.size() == batch_bounds.size() + 1);
  CHECK(h.counts[0] == 1);
  CHECK(h.counts[1] == 1);
  CHECK(h.counts[2] == 1);
  CHECK(h.counts.back() == 1);
  CHECK(h.sum == 4102);
  bucket_histogram total;
  total.merge(h);
  total.merge(h);
  CHECK(total.count() == 8);
  CHECK(total.sum == 8204);
  auto taken = h.take();
  CHECK(taken.count() == 4);
  CHECK(h.count() == 0);
  CHECK(h.counts.empty());
  bucket_histogram latency;
  record_latency(latency, std::chrono::microseconds(120));
  CHECK(latency.counts[2] == 1); // 100 us < x <= 250 us
}
