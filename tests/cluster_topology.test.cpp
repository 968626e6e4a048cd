// Redis Cluster support against a real loopback cluster of 3 primaries and 3
// replicas (tests/harness/redis_cluster): the hash slot of a key as the
// servers compute it, and the slot map fetched from the nodes
// (runtime/cluster_topology), before and after a failover.

#include "runtime/cluster_topology.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "messages/errc.hpp"
#include "runtime/cluster_slots.hpp"
#include "tests/harness/redis_cluster.hpp"
#include "tests/harness/redis_process.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

constexpr auto timeout = std::chrono::milliseconds(1000);

// One cluster for every case, started by the first that needs it: starting
// one takes seconds.
redis_cluster& shared_cluster() {
  static auto cluster = [] {
    auto start = std::chrono::steady_clock::now();
    auto out = std::make_unique<redis_cluster>(3, 1);
    MESSAGE("the cluster of 6 nodes was ready after ",
            std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - start)
              .count(),
            " ms");
    return out;
  }();
  return *cluster;
}

template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : to_sentence(x.error());
}

// The key with bytes outside printable ASCII escaped, for messages.
std::string printable(const std::string& key) {
  std::string out;
  for (unsigned char c : key)
    out += c >= 0x20 && c < 0x7F ? std::string(1, static_cast<char>(c))
                                 : fmt::format("\\x{:02x}", c);
  return out;
}

// Random bytes, a quarter of them '{' and a quarter '}', so that most keys
// have tags, empty tags, nested and unclosed ones.
std::string random_bytes(std::mt19937& rng) {
  std::uniform_int_distribution<int> length{0, 24};
  std::uniform_int_distribution<int> byte{0, 255};
  std::string out;
  for (int n = length(rng); n > 0; --n) {
    auto x = byte(rng);
    out += x < 64 ? '{' : x < 128 ? '}' : static_cast<char>(byte(rng));
  }
  return out;
}

// Keys as the cache stores them: its prefix, then the user's key, sometimes
// with a hash tag of its own.
std::string cache_like(std::mt19937& rng) {
  static constexpr std::string_view alphabet = "abcxyz019:_-{}";
  std::uniform_int_distribution<size_t> pick{0, alphabet.size() - 1};
  std::uniform_int_distribution<int> length{0, 16};
  std::string out = "cafcache:";
  for (int n = length(rng); n > 0; --n)
    out += alphabet[pick(rng)];
  return out;
}

uint16_t dead_port(uint16_t other = 0) {
  for (;;) {
    auto port = free_port();
    if (port != other)
      return port;
  }
}

std::set<uint16_t> ports_of(const std::vector<host_port>& xs) {
  std::set<uint16_t> out;
  for (auto& x : xs)
    out.insert(x.port);
  return out;
}

} // namespace

TEST_SUITE("cluster_topology") {

TEST_CASE("key_slot agrees with CLUSTER KEYSLOT") {
  auto& cluster = shared_cluster();
  std::vector<std::string> keys{"", "{", "}", "{}", "}{", "{}{}", "{{}}",
                                "somekey", "foo{hash_tag}", "foo{}{bar}",
                                "foo{{bar}}zap", "foo{bar}{zap}", "{}bar",
                                "foo{bar", "foo}bar{", "}x{y}", "123456789",
                                std::string("\0{\0}", 4), "cafcache:",
                                "cafcache:{user:1}:profile"};
  std::mt19937 rng{20240611};
  for (int i = 0; i < 1000; ++i)
    keys.push_back(random_bytes(rng));
  for (int i = 0; i < 1000; ++i)
    keys.push_back(cache_like(rng));
  size_t mismatches = 0;
  std::string examples;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto reply = cluster.command(i % cluster.size(),
                                 {"CLUSTER", "KEYSLOT", keys[i]});
    REQUIRE(reply.type == resp_value::kind::integer);
    if (key_slot(keys[i]) == reply.integer)
      continue;
    if (++mismatches <= 5)
      examples += fmt::format(" '{}' ({} here, {} by Redis)",
                              printable(keys[i]), key_slot(keys[i]),
                              reply.integer);
  }
  INFO("first mismatches:", examples);
  CHECK(keys.size() == 2020);
  CHECK(mismatches == 0);
}

TEST_CASE("the slot map from all seeds names the live primaries") {
  auto& cluster = shared_cluster();
  auto map = fetch_slot_map(cluster.seeds(), "", "", timeout);
  REQUIRE_MESSAGE(map, why(map));
  CHECK(map->covers_all());
  REQUIRE(map->primaries().size() == 3);
  std::set<uint16_t> live;
  for (auto i : cluster.primaries())
    live.insert(cluster.node(i).port());
  CHECK(ports_of(map->primaries()) == live);
  CHECK(ports_of(map->nodes()) == ports_of(cluster.seeds()));
  for (size_t p = 0; p < map->primaries().size(); ++p) {
    auto& primary = map->primaries()[p];
    CHECK(primary.host == "127.0.0.1");
    REQUIRE(live.count(primary.port) == 1);
    size_t index = 0;
    while (cluster.node(index).port() != primary.port)
      ++index;
    auto replica = cluster.replica_of(index);
    REQUIRE(replica);
    REQUIRE(map->replicas(p).size() == 1);
    CHECK(map->replicas(p)[0].port == cluster.node(*replica).port());
  }
  std::vector<uint16_t> slots{0, 1, 5460, 5461, 5462, 10922, 10923, 16382,
                              16383, key_slot("somekey")};
  std::mt19937 rng{7};
  std::uniform_int_distribution<int> any_slot{0, 16383};
  for (int i = 0; i < 40; ++i)
    slots.push_back(static_cast<uint16_t>(any_slot(rng)));
  for (auto slot : slots) {
    CAPTURE(slot);
    auto owner = map->owner(slot);
    REQUIRE(owner);
    CHECK(map->primaries()[*owner].port
          == cluster.node(cluster.owner_of(slot)).port());
  }
}

TEST_CASE("a dead first seed is skipped") {
  auto& cluster = shared_cluster();
  auto seeds = cluster.seeds();
  auto all = fetch_slot_map(seeds, "", "", timeout);
  REQUIRE_MESSAGE(all, why(all));
  seeds.insert(seeds.begin(), host_port{"127.0.0.1", dead_port()});
  auto map = fetch_slot_map(seeds, "", "", timeout);
  REQUIRE_MESSAGE(map, why(map));
  CHECK(map->covers_all());
  CHECK(*map == *all);
}

TEST_CASE("only dead seeds are redis_unavailable, naming each") {
  auto first = dead_port();
  auto second = dead_port(first);
  auto map = fetch_slot_map({{"127.0.0.1", first}, {"127.0.0.1", second}}, "",
                            "", std::chrono::milliseconds(300));
  REQUIRE_FALSE(map);
  CHECK(is(map.error(), errc::redis_unavailable));
  auto text = to_sentence(map.error());
  INFO(text);
  CHECK(text.find("no Redis Cluster node reachable") != std::string::npos);
  CHECK(text.find(fmt::format("127.0.0.1:{} (", first)) != std::string::npos);
  CHECK(text.find(fmt::format("127.0.0.1:{} (", second)) != std::string::npos);
}

TEST_CASE("a Redis not in cluster mode is bad_config") {
  redis_process plain;
  host_port at{"127.0.0.1", plain.port()};
  auto map = fetch_slot_map({at}, "", "", timeout);
  REQUIRE_FALSE(map);
  CHECK(is(map.error(), errc::bad_config));
  auto text = to_sentence(map.error());
  INFO(text);
  CHECK(text.find("not in cluster mode") != std::string::npos);
  CHECK(text.find(fmt::format("127.0.0.1:{} (ERR This instance has cluster "
                              "support disabled)",
                              plain.port()))
        != std::string::npos);
  // Telling more than a dead node, it is what the error is about.
  host_port dead{"127.0.0.1", dead_port(plain.port())};
  auto behind_dead = fetch_slot_map({dead, at}, "", "", timeout);
  REQUIRE_FALSE(behind_dead);
  CHECK(is(behind_dead.error(), errc::bad_config));
}

TEST_CASE("refused credentials are auth_failed, and good ones are sent") {
  redis_process secured{{"--requirepass", "s3cret"}};
  std::vector<host_port> at{{"127.0.0.1", secured.port()}};
  auto none = fetch_slot_map(at, "", "", timeout);
  REQUIRE_FALSE(none);
  CHECK(is(none.error(), errc::auth_failed));
  CHECK(to_sentence(none.error()).find("NOAUTH") != std::string::npos);
  auto wrong = fetch_slot_map(at, "", "wrong", timeout);
  REQUIRE_FALSE(wrong);
  CHECK(is(wrong.error(), errc::auth_failed));
  CHECK(to_sentence(wrong.error()).find("WRONGPASS") != std::string::npos);
  // Past AUTH, it is a plain Redis.
  auto right = fetch_slot_map(at, "", "s3cret", timeout);
  REQUIRE_FALSE(right);
  CHECK(is(right.error(), errc::bad_config));
  auto with_user = fetch_slot_map(at, "default", "s3cret", timeout);
  REQUIRE_FALSE(with_user);
  CHECK(is(with_user.error(), errc::bad_config));
}

TEST_CASE("after a failover a fresh slot map names the new primary") {
  auto& cluster = shared_cluster();
  auto before = fetch_slot_map(cluster.seeds(), "", "", timeout);
  REQUIRE_MESSAGE(before, why(before));
  auto old_port = before->primaries()[0].port;
  size_t old_primary = 0;
  while (cluster.node(old_primary).port() != old_port)
    ++old_primary;
  auto replica = cluster.replica_of(old_primary);
  REQUIRE(replica);
  auto new_port = cluster.node(*replica).port();
  cluster.failover(*replica);
  auto after = fetch_slot_map(cluster.seeds(), "", "", timeout);
  REQUIRE_MESSAGE(after, why(after));
  CHECK(after->covers_all());
  CHECK(after->primaries().size() == 3);
  CHECK(*after != *before);
  CHECK_FALSE(after->index_of({"127.0.0.1", old_port}));
  auto promoted = after->index_of({"127.0.0.1", new_port});
  REQUIRE(promoted);
  size_t moved = 0;
  size_t wrong = 0;
  for (uint16_t slot = 0; slot < cluster_slot_count; ++slot) {
    if (before->owner(slot) != 0u)
      continue;
    ++moved;
    wrong += after->owner(slot) != promoted ? 1 : 0;
  }
  CHECK(moved > 0);
  CHECK(wrong == 0);
  CHECK(cluster.primaries().size() == 3);
}

} // TEST_SUITE
