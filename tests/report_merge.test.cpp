// Folding the reports of a Redis Cluster's node caches into one.

#include <doctest/doctest.h>

#include "runtime/report_merge.hpp"

using namespace cafcache;

TEST_CASE("stats of node caches add up; latency percentiles take the worst") {
  stats_report a;
  a.gets = 1;
  a.dirty_keys = 4;
  a.fallback_entries = 10;
  a.latency_p50_us = 70;
  a.latency_p99_us = 900;
  stats_report b;
  b.gets = 2;
  b.dataset_changes = 1;
  b.fallback_entries = 5;
  b.latency_p50_us = 50;
  b.latency_p99_us = 100;
  auto total = empty_stats();
  merge_into(total, a);
  merge_into(total, b);
  CHECK(total.gets == 3);
  CHECK(total.dirty_keys == 4);
  CHECK(total.dataset_changes == 1);
  CHECK(total.fallback_entries == 15);
  CHECK(total.latency_p50_us == 70);
  CHECK(total.latency_p99_us == 900);
}

TEST_CASE("health of node caches: healthy only when every node is, the "
          "worst breaker, the first error named by its node") {
  health_report ok;
  ok.healthy = true;
  ok.connected = true;
  ok.subscribed = true;
  ok.stats.sets = 2;
  health_report down;
  down.breaker = breaker_state::open;
  down.last_error = "connection refused";
  down.stats.sets = 1;
  auto total = empty_health();
  merge_into(total, ok, "127.0.0.1:7000");
  CHECK(total.healthy);
  merge_into(total, down, "127.0.0.1:7001");
  merge_into(total, health_report{}, "127.0.0.1:7002");
  CHECK_FALSE(total.healthy);
  CHECK(total.connected);
  CHECK_FALSE(total.subscribed);
  CHECK(total.breaker == breaker_state::open);
  CHECK(total.last_error == "127.0.0.1:7001: connection refused");
  CHECK(total.stats.sets == 3);
}

TEST_CASE("metrics of node caches add up by operation, code and bucket") {
  metrics_report a;
  a.healthy = true;
  a.requests = {1, 2};
  a.errors = {0, 3};
  a.redis_latency.counts = {1, 0};
  metrics_report b;
  b.healthy = false;
  b.connected = true;
  b.breaker = breaker_state::half_open;
  b.requests = {4, 5, 6};
  b.redis_latency.counts = {2, 2};
  auto total = empty_metrics();
  merge_into(total, a);
  merge_into(total, b);
  CHECK_FALSE(total.healthy);
  CHECK(total.connected);
  CHECK(total.breaker == breaker_state::half_open);
  CHECK(total.requests == std::vector<uint64_t>{5, 7, 6});
  CHECK(total.errors == std::vector<uint64_t>{0, 3});
  CHECK(total.redis_latency.counts == std::vector<uint64_t>{3, 2});
}
