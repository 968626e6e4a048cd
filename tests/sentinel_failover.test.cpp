// A Sentinel-managed primary: 1 primary, 1 or 2 replicas and 3 Sentinels on
// free loopback ports, started and stopped by pid. The cache finds the primary
// through the Sentinels, follows a failover without a restart, and never
// answers a read with a value older than an acknowledged write on the way.

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
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
  /// With `two_replicas`, a second replica (`second`) follows the primary.
  explicit sentinel_setup(bool two_replicas = false)
    // A replica loads the primary's data from the socket, so that no
    // dump.rdb lands in the working directory.
    : replica(replica_args()) {
    if (two_replicas)
      second = std::make_unique<redis_process>(replica_args());
    replicas = two_replicas ? 2 : 1;
    for (auto* x : {&replica, second.get()})
      if (x != nullptr)
        REQUIRE(eventually(
          [&] {
            return has_line(x->command({"INFO", "replication"}),
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
      REQUIRE(eventually([&] { return replicas_ready(*s); }, 20s));
  }

  std::vector<std::string> replica_args() const {
    return {"--replicaof", "127.0.0.1", std::to_string(primary.port()),
            "--repl-diskless-load", "swapdb"};
  }

  bool replicas_ready(const redis_process& sentinel) const {
    auto r = sentinel.command({"SENTINEL", "replicas", "mymaster"});
    if (r.type != resp_value::kind::array || r.elements.size() != replicas)
      return false;
    for (auto& entry : r.elements) {
      auto& fields = entry.elements;
      auto field = [&](const std::string& name) {
        for (size_t i = 0; i + 1 < fields.size(); i += 2)
          if (fields[i].str == name)
            return fields[i + 1].str;
        return std::string{};
      };
      if (field("flags") != "slave" || field("master-link-status") != "ok")
        return false;
    }
    return true;
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
  std::unique_ptr<redis_process> second;
  size_t replicas = 1;
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
    // a read right after an acknowledged write returns that write or, when
    // the replay deleted the key in Redis between the two (a write the
    // fallback took during the failover), nothing: never an older version.
    int landed_at = -1;
    int older_reads = 0;
    int misses = 0;
    for (int i = 1; i < 2000 && landed_at < 0; ++i) {
      auto value = "v" + std::to_string(i);
      auto ack = api.set("k", value);
      REQUIRE_MESSAGE(ack, why(ack));
      auto read = api.get("k");
      REQUIRE_MESSAGE(read, why(read));
      if (!read->found) {
        ++misses;
      } else if (read->value.data != value) {
        ++older_reads;
        MESSAGE("write " << value << " acknowledged by "
                         << std::string{to_string(ack->target)} << ", then read "
                         << read->value.data << " from "
                         << std::string{to_string(read->source)});
      }
      if (ack->target == tier::redis && stored(s.replica, "k") == value)
        landed_at = i;
      std::this_thread::sleep_for(20ms);
    }
    MESSAGE("reads that found nothing right after the write: " << misses);
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

TEST_CASE("Sentinel: kill -9 of the primary of two replicas under load: "
          "every answer in time, none older than an acknowledged write, "
          "healthy again on the promoted replica") {
  sentinel_setup s{true};
  cache_on c{s.url()};
  auto& api = *c.api;
  auto old_port = s.primary.port();
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i)
    keys.push_back("k" + std::to_string(i));
  // Per key: the newest version acknowledged before a read was sent.
  std::map<std::string, int> acked;
  int version = 0;
  int older = 0;
  int late = 0;
  int calls = 0;
  auto limit = fast_config(s.url()).request_timeout + 50ms;
  auto timed = [&](auto call) {
    auto sent = std::chrono::steady_clock::now();
    auto x = call();
    ++calls;
    if (std::chrono::steady_clock::now() - sent > limit)
      ++late;
    return x;
  };
  auto round = [&] {
    ++version;
    for (auto& key : keys) {
      auto value = key + ":" + std::to_string(version);
      auto w = timed([&] { return api.set(key, value); });
      if (w)
        acked[key] = version;
      auto r = timed([&] { return api.get(key); });
      REQUIRE_MESSAGE(r, why(r));
      if (r->found) {
        auto got = std::stoi(r->value.data.substr(r->value.data.find(':') + 1));
        if (got < acked[key])
          ++older;
      }
    }
  };
  for (int i = 0; i < 3; ++i)
    round();
  REQUIRE(api.health().healthy);
  s.primary.kill();
  auto killed = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> unhealthy;
  auto back = eventually(
    [&] {
      round();
      auto h = api.health();
      if (!h.healthy && !unhealthy)
        unhealthy = std::chrono::steady_clock::now();
      auto port = s.master_port();
      return h.healthy && port != 0 && port != old_port;
    },
    40s);
  REQUIRE_MESSAGE(back, api.health().last_error);
  auto healthy_again = std::chrono::steady_clock::now();
  auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  MESSAGE("healthy again " << ms(healthy_again - killed)
                           << " ms after the kill (unhealthy for "
                           << (unhealthy ? ms(healthy_again - *unhealthy) : 0)
                           << " ms), " << calls << " requests");
  for (int i = 0; i < 3; ++i)
    round();
  CHECK(older == 0);
  CHECK(late <= late_allowed(calls));
  // The cache writes to the replica the Sentinels promoted.
  auto& promoted = s.master_port() == s.replica.port() ? s.replica : *s.second;
  CHECK(stored(promoted, keys[0]) == keys[0] + ":" + std::to_string(version));
  auto r = api.get(keys[0]);
  REQUIRE_MESSAGE(r, why(r));
  CHECK(r->source == tier::redis);
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
