// Coherence across nodes: two caches on one redis-server keep their
// fallbacks free of what the other one changed, and a gap in the
// subscription drops what may have missed an invalidation.

#include <doctest/doctest.h>

#include <atomic>

#include "runtime/redis_info.hpp"
#include "runtime/coherence.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

/// A second cache (another node) on the Redis of `f`.
struct peer : cache_node {
  explicit peer(module_fixture& f) : cache_node(f.settings) {
    // nop
  }
};

bool subscribed(const health_report& h) {
  return h.subscribed;
}

/// Waits until `api` has received `n` invalidations from other nodes.
bool heard(client& api, uint64_t n) {
  for (int i = 0; i < 500; ++i) {
    if (api.stats().peer_invalidations >= n)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

set_options with_tag(std::string tag) {
  set_options opts;
  opts.tags = {std::move(tag)};
  return opts;
}

/// Two nodes on one Redis, both subscribed: `a` (the fixture's cache) and
/// `b`.
struct two_nodes : module_fixture {
  two_nodes() {
    REQUIRE(a.wait_for(subscribed));
    REQUIRE(b.api->wait_for(subscribed));
  }

  /// Kills Redis and waits until A noticed: A answers from its fallback.
  void lose_redis() {
    redis.kill();
    REQUIRE(a.wait_for([](const health_report& h) { return !h.connected; }));
  }

  /// A still serves `key`, which no node changed, from its fallback.
  void kept(const std::string& key) {
    auto x = a.get(key);
    REQUIRE(x);
    CHECK(x->found);
    CHECK(x->source == tier::fallback);
    CHECK(x->stale);
  }

  peer b{*this};
  client& a = *api;
};

/// How many PUBLISH commands `redis` ran since its stats were reset.
uint64_t publishes(redis_process& redis) {
  auto stats = redis.command({"INFO", "commandstats"}).str;
  auto line = info_field(stats, "cmdstat_publish");
  auto calls = line.find("calls=");
  if (calls == std::string::npos)
    return 0;
  return std::stoull(line.substr(calls + 6));
}

} // namespace

TEST_CASE_FIXTURE(two_nodes, "a write or invalidate on one node leaves no "
                             "old value in another node's fallback") {
  // A holds old values in its fallback (mirrored from its reads).
  REQUIRE(a.set("doomed", "old")->target == tier::redis);
  REQUIRE(a.set("changed", "old")->target == tier::redis);
  REQUIRE(a.set("tagged", "old", with_tag("prices"))->target == tier::redis);
  REQUIRE(a.set("control", "kept")->target == tier::redis);
  CHECK(text(a.get("doomed")) == "old");
  // B changes three of them; A hears each once, never its own writes.
  CHECK(b.api->invalidate("doomed")->target == tier::redis);
  CHECK(b.api->set("changed", "new")->target == tier::redis);
  CHECK(b.api->invalidate_tag("prices")->target == tier::redis);
  REQUIRE(heard(a, 3));
  CHECK(a.stats().peer_invalidations == 3);
  CHECK(b.api->stats().peer_invalidations == 4);
  // Redis goes away: A answers from its fallback, and only with what is
  // still true.
  lose_redis();
  CHECK(text(a.get("doomed")) == "<miss>");
  CHECK(text(a.get("changed")) == "<miss>");
  CHECK(text(a.get("tagged")) == "<miss>");
  kept("control");
}

TEST_CASE_FIXTURE(two_nodes, "a gap in the subscription drops the fallback "
                             "once it is back") {
  REQUIRE(a.set("k", "old")->target == tier::redis);
  REQUIRE(a.stats().fallback_entries >= 1);
  // Only the subscriptions die; Redis and the data connections stay up.
  redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
  CHECK(b.api->set("k", "new")->target == tier::redis);
  REQUIRE(a.wait_for([&](const health_report& h) {
    return h.subscribed && h.stats.coherence_gaps >= 1;
  }));
  // Whether or not A heard B's write, nothing stored before the gap ended
  // is left to be served.
  CHECK(a.stats().fallback_entries == 0);
  CHECK(text(a.get("k")) == "new");
  // Coherence goes on after the gap.
  REQUIRE(a.set("after", "a1")->target == tier::redis);
  auto before = a.stats().peer_invalidations;
  CHECK(b.api->invalidate("after")->target == tier::redis);
  REQUIRE(heard(a, before + 1));
  lose_redis();
  CHECK(text(a.get("after")) == "<miss>");
  CHECK(text(a.get("k")) == "new");
}

TEST_CASE("with coherence off nothing is published or subscribed") {
  module_fixture f{{}, [](config& c) { c.coherence = false; }};
  auto& a = *f.api;
  REQUIRE(a.set("k", "v")->target == tier::redis);
  CHECK_FALSE(a.health().subscribed);
  auto channels = f.redis.command({"PUBSUB", "NUMSUB",
                                   coherence::channel("test:")});
  REQUIRE(channels.type == resp_value::kind::array);
  REQUIRE(channels.elements.size() == 2);
  CHECK(channels.elements[1].integer == 0);
}

TEST_CASE_FIXTURE(two_nodes, "writes sent together are published together, "
                             "and the other node drops every key they name") {
  constexpr int n = 300;
  auto key = [](int i) { return "burst" + std::to_string(i); };
  // A holds each key's old value in its fallback.
  for (int i = 0; i < n; ++i)
    REQUIRE(a.set(key(i), "old")->target == tier::redis);
  REQUIRE(a.set("control", "kept")->target == tier::redis);
  auto heard_before = a.stats().peer_invalidations;
  redis.command({"CONFIG", "RESETSTAT"});
  // B takes n writes at once, from one actor that does not wait between.
  std::atomic<int> in_redis{0};
  {
    caf::scoped_actor self{b.sys};
    auto burst = b.sys.spawn([&, cache = b.cache](caf::event_based_actor* x) {
      for (int i = 0; i < n; ++i)
        x->request(cache, 10s, put_atom::value, key(i),
                   cache_value{codec_kind::raw, "new"}, set_options{})
          .then(
            [&](write_result& r) {
              if (r.target == tier::redis)
                ++in_redis;
            },
            [](caf::error&) {});
    });
    self->monitor(burst);
    self->receive([](const caf::down_msg&) {});
  }
  REQUIRE(in_redis == n);
  // Fewer messages than writes, and A hears every key.
  auto messages = publishes(redis);
  CHECK(messages >= 1);
  CHECK(messages < n);
  MESSAGE(messages << " PUBLISH commands for " << n << " writes");
  REQUIRE(heard(a, heard_before + n));
  CHECK(a.stats().peer_invalidations == heard_before + n);
  // Without Redis, A has no old value left to serve, and kept the rest.
  lose_redis();
  for (int i = 0; i < n; ++i)
    REQUIRE_MESSAGE(text(a.get(key(i))) == "<miss>", key(i));
  kept("control");
}
