// The headline promise under faults a production Redis really has: one
// connection of the pool dropped, Redis back with an older dataset,
// credentials changed mid-run, Redis out of memory. Each case runs against a
// real redis-server that it starts on a free loopback port.

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

/// The value stored in Redis under the test prefix, unwrapped.
std::string in_redis(const redis_process& redis, const std::string& key) {
  auto raw = redis.command({"GET", "test:" + key});
  if (raw.is_nil())
    return "<none>";
  auto value = decode_envelope(raw.str);
  return value ? value->data : "<foreign>";
}

} // namespace

TEST_CASE("one connection of the pool dropped: every write still reaches "
          "Redis, where other nodes read it") {
  module_fixture f{{}, [](config& c) { c.pool_size = 3; }};
  auto& api = *f.api;
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  int to_fallback = 0;
  int not_in_redis = 0;
  for (int round = 0; round < 8; ++round) {
    auto ids = request_client_ids(f.redis);
    REQUIRE(!ids.empty());
    f.redis.command({"CLIENT", "KILL", "ID", ids[round % ids.size()]});
    for (int i = 0; i < 40; ++i) {
      auto key = "k" + std::to_string(i);
      auto value = "v" + std::to_string(round) + "-" + std::to_string(i);
      auto w = api.set(key, value);
      REQUIRE_MESSAGE(w, why(w));
      if (w->target != tier::redis)
        ++to_fallback;
      else if (in_redis(f.redis, key) != value)
        ++not_in_redis;
    }
    std::this_thread::sleep_for(100ms);
  }
  CHECK(to_fallback == 0);
  CHECK(not_in_redis == 0);
  CHECK(api.health().breaker == breaker_state::closed);
}

TEST_CASE("Redis back with an older dataset: the recent writes are deleted "
          "before Redis is read again") {
  auto dir = temp_dir();
  // Reconnects wait long enough for the test to see the older data in Redis
  // before the cache deletes it.
  module_fixture f{{"--dir", dir.string(), "--dbfilename", "dump.rdb"},
                   [](config& c) {
                     c.reconnect_min = 2s;
                     c.reconnect_max = 4s;
                   }};
  auto& api = *f.api;
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  REQUIRE(api.set("k", "v1"));
  REQUIRE(api.set("gone", "g1"));
  // A snapshot with v1 and g1, then newer acknowledged writes it lacks.
  REQUIRE(f.redis.command({"SAVE"}).is_ok());
  std::filesystem::copy_file(dir / "dump.rdb", dir / "old.rdb");
  REQUIRE(api.set("k", "v2")->target == tier::redis);
  REQUIRE(api.invalidate("gone")->target == tier::redis);
  // A crash, and a restart from the older snapshot.
  f.redis.kill();
  std::filesystem::copy_file(dir / "old.rdb", dir / "dump.rdb",
                             std::filesystem::copy_options::overwrite_existing);
  f.redis.restart();
  REQUIRE(in_redis(f.redis, "k") == "v1");
  // Every read from now on: never v1, never g1.
  auto until = std::chrono::steady_clock::now() + 3s;
  int older = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto k = text(api.get("k"));
    auto g = text(api.get("gone"));
    older += (k == "v1") + (g == "g1");
    std::this_thread::sleep_for(5ms);
  }
  CHECK(older == 0);
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  CHECK(in_redis(f.redis, "k") == "<none>");
  CHECK(in_redis(f.redis, "gone") == "<none>");
  CHECK(api.stats().dataset_changes == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("credentials that stop working mid-run: reads are served stale, "
          "writes degrade, health says why") {
  module_fixture f{{"--requirepass", "first"}, [](config& c) {
                     c.redis_url.replace(0, 8, "redis://:first@");
                   }};
  auto& api = *f.api;
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  REQUIRE(api.set("k", "v1")->target == tier::redis);
  REQUIRE(text(api.get("k")) == "v1");
  // The password changes and every connection is dropped.
  std::vector<std::string> auth{"AUTH", "first"};
  f.redis.command({"CONFIG", "SET", "requirepass", "second"}, auth);
  f.redis.command({"CLIENT", "KILL", "TYPE", "normal"}, {"AUTH", "second"});
  f.redis.command({"CLIENT", "KILL", "TYPE", "pubsub"}, {"AUTH", "second"});
  // The reconnects are refused: health names the credentials.
  health_report h;
  REQUIRE(api.wait_for([&](const health_report& x) {
    h = x;
    return !x.connected
           && x.last_error.find("password") != std::string::npos;
  }));
  CHECK_FALSE(h.healthy);
  // From now on it is an outage like any other.
  auto r = api.get("k");
  REQUIRE_MESSAGE(r, why(r));
  CHECK(text(r) == "v1");
  CHECK(r->source == tier::fallback);
  CHECK(r->stale);
  auto w = api.set("k2", "w");
  REQUIRE_MESSAGE(w, why(w));
  CHECK(w->target == tier::fallback);
  auto d = api.invalidate("k3");
  REQUIRE_MESSAGE(d, why(d));
  CHECK(d->target == tier::fallback);
  CHECK(api.wait_for([](const health_report& x) {
    return x.breaker != breaker_state::closed;
  }));
}

TEST_CASE("Redis out of memory: writes are refused with redis_error and the "
          "key deleted, reads stay fresh from Redis, the breaker stays "
          "closed") {
  module_fixture f;
  auto& api = *f.api;
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  REQUIRE(api.set("k", "v1")->target == tier::redis);
  REQUIRE(api.set("other", "o1")->target == tier::redis);
  f.redis.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  f.redis.command({"CONFIG", "SET", "maxmemory", "1"});
  for (int i = 0; i < 20; ++i) {
    auto w = api.set("k", "v" + std::to_string(i + 2));
    REQUIRE_FALSE(w);
    CHECK(is(w.error(), errc::redis_error));
    CHECK(to_sentence(w.error()).find("OOM") != std::string::npos);
  }
  // Refused, and the older value gone from Redis and the fallback.
  CHECK(in_redis(f.redis, "k") == "<none>");
  auto k = api.get("k");
  REQUIRE(k);
  CHECK(text(k) == "<miss>");
  CHECK(k->source == tier::redis);
  auto other = api.get("other");
  REQUIRE(other);
  CHECK(text(other) == "o1");
  CHECK(other->source == tier::redis);
  CHECK_FALSE(other->stale);
  auto inval = api.invalidate("other");
  REQUIRE(inval);
  CHECK(inval->target == tier::redis);
  auto h = api.health();
  CHECK(h.breaker == breaker_state::closed);
  CHECK(h.last_error.find("OOM") != std::string::npos);
  CHECK(api.stats().degraded_writes == 0);
  // Memory again: writes reach Redis.
  f.redis.command({"CONFIG", "SET", "maxmemory", "0"});
  auto w = api.set("k", "back");
  REQUIRE(w);
  CHECK(w->target == tier::redis);
  CHECK(in_redis(f.redis, "k") == "back");
}

TEST_CASE("health is not healthy while the coherence subscription is down") {
  module_fixture f{{}, [](config& c) {
                     c.reconnect_min = 2s;
                     c.reconnect_max = 2s;
                   }};
  auto& api = *f.api;
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  f.redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
  health_report seen;
  REQUIRE(api.wait_for([&](const health_report& h) {
    seen = h;
    return !h.subscribed;
  }));
  CHECK(seen.connected);
  CHECK_FALSE(seen.healthy);
}

TEST_CASE("log lines say what happened: a dropped connection is not called "
          "a fallback failure, a refused spawn logs no breaker transition") {
  {
    stderr_capture log;
    module_fixture f;
    auto& api = *f.api;
    REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
    REQUIRE(api.set("k", "v")->target == tier::redis);
    f.redis.command({"CLIENT", "KILL", "TYPE", "normal"});
    // Health may still say healthy before the cache noticed the kill.
    auto until = std::chrono::steady_clock::now() + 10s;
    while (log.text().find("event=connection_lost") == std::string::npos
           && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
    auto text = log.text();
    CHECK(text.find("event=connection_lost") != std::string::npos);
    CHECK(text.find("fallback could not answer") == std::string::npos);
  }
  stderr_capture log;
  redis_process redis{{"--requirepass", "right"}};
  node_config cfg;
  caf::actor_system sys{cfg};
  auto refused = spawn_cache(sys, fast_config(redis.url(":wrong")));
  REQUIRE_FALSE(refused);
  CHECK(is(refused.error(), errc::auth_failed));
  CHECK(log.text().find("event=breaker") == std::string::npos);
}
