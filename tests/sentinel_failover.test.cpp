// A Sentinel-managed primary: 1 primary, 1 replica and 3 Sentinels on free
// loopback ports, started and stopped by pid. The cache finds the primary
// through the Sentinels, follows a failover without a restart, and never
// answers a read with a value older than an acknowledged write on the way.

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <thread>

#include "runtime/codec.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;
using namespace std::chrono_literals;

namespace {

bool has_line(const resp_value& info, const std::string& line) {
  return info.str.find(line) != std::string::npos;
}

/// The topology; Sentinels monitor the primary as "mymaster".
struct sentinel_setup {
  sentinel_setup()
    // The replica loads the primary's data from the socket, so that no
    // dump.rdb lands in the working directory.
    : replica({"--replicaof", "127.0.0.1", std::to_string(primary.port()),
               "--repl-diskless-load", "swapdb"}) {
    REQUIRE(eventually(
      [&] {
        return has_line(replica.command({"INFO", "replication"}),
                        "master_link_status:up");
      },
      10s));
    for (int i = 0; i < 3; ++i) {
      auto conf = dir / ("sentinel-" + std::to_string(i) + ".conf");
      std::ofstream{conf} << "sentinel monitor mymaster 127.0.0.1 "
                          << primary.port() << " 2\n"
                          << "sentinel down-after-milliseconds mymaster 1000\n"
                          << "sentinel failover-timeout mymaster 5000\n";
      sentinels.push_back(std::make_unique<redis_process>(
        conf.string(), std::vector<std::string>{"--sentinel"}));
    }
    // A forced failover needs a replica the Sentinel has seen in good
    // health: flags exactly "slave", its link to the primary "ok".
    for (auto& s : sentinels)
      REQUIRE(eventually([&] { return replica_ready(*s); }, 20s));
  }

  static bool replica_ready(const redis_process& sentinel) {
    auto r = sentinel.command({"SENTINEL", "replicas", "mymaster"});
    if (r.type != resp_value::kind::array || r.elements.empty())
      return false;
    auto& fields = r.elements[0].elements;
    auto field = [&](const std::string& name) {
      for (size_t i = 0; i + 1 < fields.size(); i += 2)
        if (fields[i].str == name)
          return fields[i + 1].str;
      return std::string{};
    };
    return field("flags") == "slave" && field("master-link-status") == "ok";
  }

  std::string url(const std::string& name = "mymaster") const {
    std::string out = "redis-sentinel://";
    for (size_t i = 0; i < sentinels.size(); ++i)
      out += (i > 0 ? ",127.0.0.1:" : "127.0.0.1:")
             + std::to_string(sentinels[i]->port());
    return out + "#" + name;
  }

  /// Forces a failover to the replica and waits until the Sentinels name it.
  /// A Sentinel may refuse with NOGOODSLAVE until it has refreshed the
  /// replica's state, so it is asked again for a while.
  void fail_over() {
    resp_value forced;
    eventually(
      [&] {
        forced = sentinels[0]->command({"SENTINEL", "FAILOVER", "mymaster"});
        return forced.type == resp_value::kind::status;
      },
      20s);
    REQUIRE_MESSAGE(forced.type == resp_value::kind::status, forced.str);
    REQUIRE(eventually([&] { return master_port() == replica.port(); }, 10s));
  }

  /// The port the first Sentinel names as the master's.
  uint16_t master_port() const {
    auto r = sentinels[0]->command(
      {"SENTINEL", "get-master-addr-by-name", "mymaster"});
    if (r.type != resp_value::kind::array || r.elements.size() != 2)
      return 0;
    return static_cast<uint16_t>(std::stoi(r.elements[1].str));
  }

  std::filesystem::path dir = temp_dir();
  redis_process primary;
  redis_process replica;
  std::vector<std::unique_ptr<redis_process>> sentinels;
};

/// What `redis` holds under the cache's key `key`, decoded; empty when absent.
std::string stored(const redis_process& redis, const std::string& key) {
  auto r = redis.command({"GET", "test:" + key});
  if (r.type != resp_value::kind::string)
    return {};
  auto v = decode_envelope(r.str);
  return v ? v->data : std::string{};
}

/// A cache on `url` with the tests' fast settings.
struct cache_on : cache_node {
  explicit cache_on(const std::string& url) : cache_node(fast_config(url)) {
    // nop
  }
};

} // namespace

TEST_SUITE("sentinel") {

TEST_CASE("Sentinel: the cache finds the primary and follows a failover "
          "without a restart, never reading older than an acknowledged "
          "write") {
  sentinel_setup s;
  cache_on c{s.url()};
  auto& api = *c.api;
  {
    auto w = api.set("k", "v0");
    REQUIRE_MESSAGE(w, why(w));
    CHECK(w->target == tier::redis);
    CHECK(stored(s.primary, "k") == "v0");
    auto h = api.health();
    CHECK(h.healthy);
    CHECK(h.redis.rfind("redis-sentinel://127.0.0.1:", 0) == 0);
    s.fail_over();
    // Writes with increasing versions until one lands in the new primary;
    // each acknowledged write must be what the next read returns.
    int landed_at = -1;
    int older_reads = 0;
    for (int i = 1; i < 2000 && landed_at < 0; ++i) {
      auto value = "v" + std::to_string(i);
      auto ack = api.set("k", value);
      REQUIRE_MESSAGE(ack, why(ack));
      auto read = api.get("k");
      REQUIRE_MESSAGE(read, why(read));
      if (!read->found || read->value.data != value)
        ++older_reads;
      if (ack->target == tier::redis && stored(s.replica, "k") == value)
        landed_at = i;
      std::this_thread::sleep_for(20ms);
    }
    CHECK(landed_at > 0);
    CHECK(older_reads == 0);
    // Redis answers again, from the new primary.
    CHECK(eventually([&] { return api.health().healthy; }, 10s));
    auto last = api.get("k");
    REQUIRE_MESSAGE(last, why(last));
    CHECK(last->source == tier::redis);
    CHECK(last->value.data == "v" + std::to_string(landed_at));
  }
}

TEST_CASE("Sentinel: a write the old primary acknowledged but never "
          "replicated does not resurface an older value after the failover") {
  sentinel_setup s;
  cache_on c{s.url()};
  auto& api = *c.api;
  auto w1 = api.set("x", "x1");
  REQUIRE_MESSAGE(w1, why(w1));
  REQUIRE(eventually([&] { return stored(s.replica, "x") == "x1"; }, 5s));
  // The replica stops following the primary (it keeps x1), so the next
  // write is acknowledged by the primary alone, as asynchronous replication
  // allows, and is lost when the replica is promoted.
  s.replica.command({"REPLICAOF", "127.0.0.1", std::to_string(free_port())});
  auto w2 = api.set("x", "x2");
  REQUIRE_MESSAGE(w2, why(w2));
  REQUIRE(w2->target == tier::redis);
  REQUIRE(stored(s.primary, "x") == "x2");
  REQUIRE(stored(s.replica, "x") == "x1");
  s.fail_over();
  auto failed_over = std::chrono::steady_clock::now();
  // Writes of another key show when the cache is on the new primary.
  int i = 0;
  REQUIRE(eventually(
    [&] {
      auto value = "p" + std::to_string(++i);
      auto w = api.set("probe", value);
      return w && w->target == tier::redis
             && stored(s.replica, "probe") == value;
    },
    30s));
  MESSAGE("the cache wrote to the new primary "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - failed_over)
               .count()
          << " ms after the Sentinels named it");
  // "x" may be a miss now, never "x1".
  auto r = api.get("x");
  REQUIRE_MESSAGE(r, why(r));
  CHECK_MESSAGE(!(r->found && r->value.data == "x1"),
                "read x1, older than the acknowledged x2");
  CHECK(api.stats().dataset_changes >= 1);
}

TEST_CASE("Sentinel: no Sentinel reachable and an unknown master name are "
          "told apart in health") {
  {
    cache_on c{"redis-sentinel://127.0.0.1:" + std::to_string(free_port())
               + "#mymaster"};
    auto& api = *c.api;
    auto h = api.health();
    CHECK_FALSE(h.connected);
    CHECK_MESSAGE(h.last_error.find("no Sentinel reachable")
                    != std::string::npos,
                  h.last_error);
    // Requests are answered from the fallback meanwhile.
    auto w = api.set("k", "v");
    REQUIRE_MESSAGE(w, why(w));
    CHECK(w->target == tier::fallback);
  }
  {
    redis_process primary;
    auto dir = temp_dir();
    auto conf = dir / "sentinel.conf";
    std::ofstream{conf} << "sentinel monitor mymaster 127.0.0.1 "
                        << primary.port() << " 1\n";
    redis_process sentinel{conf.string(), {"--sentinel"}};
    cache_on c{"redis-sentinel://127.0.0.1:" + std::to_string(sentinel.port())
               + "#other"};
    auto h = c.api->health();
    CHECK_FALSE(h.connected);
    CHECK_MESSAGE(h.last_error.find("no Sentinel knows the master name "
                                    "'other'")
                    != std::string::npos,
                  h.last_error);
  }
}

TEST_CASE("Sentinel: Sentinels that refuse cafcache.sentinel-password make "
          "spawn_cache fail with auth_failed") {
  redis_process primary;
  auto dir = temp_dir();
  auto conf = dir / "sentinel.conf";
  std::ofstream{conf} << "sentinel monitor mymaster 127.0.0.1 "
                      << primary.port() << " 1\nrequirepass s3cret\n";
  redis_process sentinel{conf.string(), {"--sentinel"}};
  auto url = "redis-sentinel://127.0.0.1:" + std::to_string(sentinel.port())
             + "#mymaster";
  node_config cfg;
  caf::actor_system sys{cfg};
  auto settings = fast_config(url);
  settings.sentinel_password = "wrong";
  auto refused = spawn_cache(sys, settings);
  if (refused)
    stop_cache(sys, *refused);
  REQUIRE_FALSE(refused);
  CHECK_MESSAGE(is(refused.error(), errc::auth_failed),
                to_sentence(refused.error()));
  settings.sentinel_password = "s3cret";
  auto ok = spawn_cache(sys, settings);
  REQUIRE_MESSAGE(ok, why(ok));
  client api{sys, *ok};
  CHECK(api.health().connected);
  stop_cache(sys, *ok);
}

} // TEST_SUITE
