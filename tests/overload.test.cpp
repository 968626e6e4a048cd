// Overload against a real redis-server: a stalled Redis under 10,000
// requests, and a connection past max-pending on a healthy one (what is
// shed, and that shedding never opens the breaker).

#include <doctest/doctest.h>

#include <atomic>

#include "tests/support.hpp"
#include "tests/harness/process_memory.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

using fixture = module_fixture;

} // namespace

TEST_CASE("overload: 10,000 requests in flight against a stalled Redis are "
          "all answered in time, from the fallback, in bounded memory") {
  fixture f{{}, [](config& c) {
              c.max_pending = 100;
              c.request_timeout = 300ms;
            }};
  auto& api = *f.api;
  for (int i = 0; i < 100; ++i)
    REQUIRE(api.set("o" + std::to_string(i), "v")->target == tier::redis);
  auto rss_before = rss_bytes();
  f.redis.pause();
  constexpr int total = 10'000;
  std::atomic<int> answered{0};
  std::atomic<int> timeouts{0};
  std::atomic<int> other_errors{0};
  std::atomic<int> late{0};
  std::atomic<int> from_fallback{0};
  auto start = std::chrono::steady_clock::now();
  {
    caf::scoped_actor self{f.sys};
    auto burst = f.sys.spawn([&, cache = f.cache](caf::event_based_actor* a) {
      for (int i = 0; i < total; ++i) {
        auto key = "o" + std::to_string(i % 100);
        a->request(cache, 10s, get_atom::value, key, request_options{})
          .then(
            [&](get_result& r) {
              if (std::chrono::steady_clock::now() - start > 300ms + 250ms)
                ++late;
              if (r.source == tier::fallback)
                ++from_fallback;
              ++answered;
            },
            [&](caf::error& err) {
              ++(is(err, errc::timeout) ? timeouts : other_errors);
              ++answered;
            });
      }
    });
    self->monitor(burst);
    self->receive([](const caf::down_msg&) {});
  }
  f.redis.resume();
  auto stats = api.stats();
  auto rss_after = rss_bytes();
  MESSAGE("RSS " << rss_before / 1024 << " KiB before, " << rss_after / 1024
                 << " KiB after; "
                         << stats.redis_failures << " Redis failures, "
                         << timeouts.load() << " timeouts");
  CHECK(answered == total);
  // Requests that reach the fallback behind thousands of others may find
  // their deadline gone by the time it answers: those get `timeout` (how
  // many depends on the machine's load), nothing else does.
  CHECK(other_errors == 0);
#ifndef __SANITIZE_ADDRESS__
  // Timing means nothing under AddressSanitizer's slowdown: there the cache
  // dequeues the last of the 10,000 requests long after they were sent, and
  // a deadline counts from when the cache takes a request, not from when it
  // was sent.
  CHECK(late == 0);
  // Each connection held at most 100 (max-pending) and refused the rest
  // with `overloaded`, or the breaker opened first and routed the rest to
  // the fallback directly: either way the fallback answered all of them.
  CHECK(from_fallback + timeouts == total);
  CHECK(stats.hits_fallback + stats.misses >= static_cast<uint64_t>(
          from_fallback.load()));
  // A few may time out behind the flood; a cache that timed them all out
  // must not pass.
  CHECK(timeouts <= total / 10);
#endif
  // Memory may even shrink (freed pages returned); it must not grow by more
  // than a bounded amount.
  CHECK(rss_after < rss_before + (64u << 20));
}

TEST_CASE("overload: a burst of writes past max-pending on a healthy Redis "
          "leaves the breaker closed, and Redis serves reads right after") {
  fixture f{{}, [](config& c) {
              c.pool_size = 1;
              c.max_pending = 20;
              c.request_timeout = 2s;
            }};
  auto& api = *f.api;
  constexpr int total = 500;
  {
    caf::scoped_actor self{f.sys};
    for (int i = 0; i < total; ++i)
      caf::anon_send(f.cache, put_atom::value, "b" + std::to_string(i),
                     cache_value{codec_kind::raw, "v"}, set_options{});
    // Behind the burst in the cache's mailbox.
    REQUIRE(api.set("last", "v")->target != tier::none);
  }
  // Shedding its own backlog is not Redis failing: the breaker, whose open
  // period sends every read to the fallback for reset-timeout, stays closed.
  auto stats = api.stats();
  // The burst was shed (else this case proves nothing), and no shed request
  // counts as a Redis failure.
  CHECK(stats.shed_requests > 0);
  CHECK(stats.redis_failures == 0);
  CHECK(api.health().breaker == breaker_state::closed);
  // The replay deletes the shed writes' keys in Redis (they went to the
  // fallback), and Redis serves reads and writes again.
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  REQUIRE(api.set("after", "v")->target == tier::redis);
  auto r = api.get("after");
  REQUIRE(r);
  CHECK(r->found);
  CHECK(r->source == tier::redis);
  CHECK_FALSE(r->stale);
}

TEST_CASE("overload: max-pending counts requests, not the PUBLISH behind "
          "each write") {
  fixture f{{}, [](config& c) {
              c.pool_size = 1;
              c.max_pending = 8;
              c.request_timeout = 3s;
              // Redis is stopped for 300 ms below: a connection whose oldest
              // command waits probe-timeout is dropped as lost.
              c.probe_timeout = 1s;
            }};
  auto& api = *f.api;
  REQUIRE(api.set("warm", "v")->target == tier::redis);
  std::atomic<int> to_redis{0};
  std::atomic<int> answered{0};
  f.redis.pause();
  {
    caf::scoped_actor self{f.sys};
    auto burst = f.sys.spawn([&, cache = f.cache](caf::event_based_actor* a) {
      // Exactly max-pending writes in flight on the one connection.
      for (int i = 0; i < 8; ++i)
        a->request(cache, 10s, put_atom::value, "p" + std::to_string(i),
                   cache_value{codec_kind::raw, "v"}, set_options{})
          .then(
            [&](write_result& r) {
              if (r.target == tier::redis)
                ++to_redis;
              ++answered;
            },
            [&](caf::error&) { ++answered; });
    });
    std::this_thread::sleep_for(300ms);
    f.redis.resume();
    self->monitor(burst);
    self->receive([](const caf::down_msg&) {});
  }
  CHECK(answered == 8);
  CHECK(to_redis == 8);
}
