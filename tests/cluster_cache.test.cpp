// The cache on a real Redis Cluster: 3 primaries and 3 replicas on free
// loopback ports, started and stopped by pid (tests/harness/redis_cluster).
// Requests go to the primary that owns the key's slot; a primary that fails
// affects only its slots; a failover moves a shard without a read older than
// an acknowledged write.

#include <doctest/doctest.h>

#include <map>
#include <thread>

#include "runtime/cluster_slots.hpp"
#include "runtime/commands.hpp"
#include "runtime/health_json.hpp"
#include "tests/harness/redis_cluster.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;
using namespace std::chrono_literals;

namespace {

/// Waits for the answer of `handle`, a request of a scoped actor; counts it
/// in `unanswered`, named `what`, when it is an error.
template <class T, class Handle>
void count_unanswered(Handle& handle, const char* what, int& unanswered) {
  handle.receive([](T&) {},
                 [&](caf::error& err) {
                   MESSAGE(what << ": " << to_sentence(err));
                   ++unanswered;
                 });
}

/// A cache on the cluster with the tests' fast settings.
struct cluster_cache : cache_node {
  explicit cluster_cache(const redis_cluster& cl)
    : cache_node(settings_for(cl)) {
    // nop
  }

  explicit cluster_cache(const config& cfg) : cache_node(cfg) {
    // nop
  }

  /// The client, once health says every node is up.
  client& healthy() {
    REQUIRE_MESSAGE(eventually([&] { return api->health().healthy; }, 10s),
                    api->health().last_error);
    return *api;
  }

  static config settings_for(const redis_cluster& cl) {
    // The default period (10 s) is longer than any test waits for a
    // failover: the cache follows through the fetches its node caches ask
    // for (redirects, lost connections, the breaker opening).
    auto cfg = fast_config(cl.url());
    cfg.cluster_refresh_spacing = 200ms;
    return cfg;
  }
};

/// The node that owns the cache's key `key` ("test:" prefix).
size_t owner_of_key(const redis_cluster& cl, const std::string& key) {
  return cl.owner_of(key_slot("test:" + key));
}

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("Cluster: each primary serves its own slots from Redis; mget and "
          "mset are split by node and answered in order") {
  redis_cluster cl;
  cluster_cache c{cl};
  auto& api = c.healthy();
  for (int i = 0; i < 200; ++i) {
    auto w = api.set("k" + std::to_string(i), "v" + std::to_string(i));
    REQUIRE_MESSAGE(w, why(w));
    CHECK(w->target == tier::redis);
  }
  // Every key landed on the primary that owns its slot, on all three.
  std::map<size_t, int> per_node;
  for (int i = 0; i < 200; ++i) {
    auto key = "k" + std::to_string(i);
    auto owner = owner_of_key(cl, key);
    auto r = cl.command(owner, {"EXISTS", "test:" + key});
    CHECK_MESSAGE(r.integer == 1, key << " is not on node " << owner);
    ++per_node[owner];
  }
  CHECK(per_node.size() == 3);
  for (int i = 0; i < 200; ++i) {
    auto r = api.get("k" + std::to_string(i));
    REQUIRE_MESSAGE(r, why(r));
    CHECK(r->found);
    CHECK(r->source == tier::redis);
    CHECK(r->value.data == "v" + std::to_string(i));
  }
  // Bulk requests over every node keep the order of their keys.
  caf::scoped_actor self{c.sys};
  std::vector<std::string> keys;
  for (int i = 199; i >= 150; --i)
    keys.push_back("k" + std::to_string(i));
  keys.push_back("absent");
  std::vector<get_result> got;
  self->request(c.cache, 5s, get_atom::value, keys, request_options{})
    .receive([&](std::vector<get_result>& x) { got = std::move(x); },
             [&](caf::error& err) { FAIL(to_sentence(err)); });
  REQUIRE(got.size() == keys.size());
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    CHECK(got[i].found);
    CHECK(got[i].value.data == "v" + keys[i].substr(1));
  }
  CHECK_FALSE(got.back().found);
  std::vector<key_value> entries;
  for (int i = 0; i < 30; ++i)
    entries.push_back({"m" + std::to_string(i),
                       cache_value{codec_kind::raw, "w" + std::to_string(i)}});
  std::vector<write_result> wrote;
  self->request(c.cache, 5s, put_atom::value, entries, set_options{})
    .receive([&](std::vector<write_result>& x) { wrote = std::move(x); },
             [&](caf::error& err) { FAIL(to_sentence(err)); });
  REQUIRE(wrote.size() == entries.size());
  for (int i = 0; i < 30; ++i) {
    CHECK(wrote[i].target == tier::redis);
    auto key = "m" + std::to_string(i);
    CHECK(cl.command(owner_of_key(cl, key), {"EXISTS", "test:" + key}).integer
          == 1);
  }
  // A hash tag keeps keys on one node, as in Redis.
  CHECK(owner_of_key(cl, "{user7}:cart") == owner_of_key(cl, "{user7}:name"));
  auto h = api.health();
  CHECK(h.healthy);
  CHECK(h.redis.rfind("redis-cluster://127.0.0.1:", 0) == 0);
  // Each primary by name, with its slots; all of them add up to 16384.
  REQUIRE(h.nodes.size() == 3);
  uint32_t slots = 0;
  for (size_t i = 0; i < 3; ++i) {
    auto& n = h.nodes[i];
    CHECK(n.healthy);
    CHECK(n.connected);
    CHECK(n.slots > 5000);
    CHECK(n.breaker == breaker_state::closed);
    if (i > 0)
      CHECK(h.nodes[i - 1].node < n.node);
    slots += n.slots;
  }
  CHECK(slots == cluster_slot_count);
  CHECK(to_json(h).find("\"nodes\":[{") != std::string::npos);
  metrics_report m;
  self->request(c.cache, 5s, metrics_atom::value)
    .receive([&](metrics_report& x) { m = std::move(x); },
             [&](caf::error& err) { FAIL(to_sentence(err)); });
  REQUIRE(m.nodes.size() == 3);
  CHECK(m.nodes[0].node == h.nodes[0].node);
  CHECK(m.nodes[0].slots == h.nodes[0].slots);
  CHECK(m.nodes[2].connected);
  CHECK(api.stats().sets >= 230);
}

TEST_CASE("Cluster: tags: a tag's sets live in the slots of its values, and "
          "invalidate_tag reaches every primary, also one that is stopped") {
  redis_cluster cl;
  cluster_cache c{cl};
  auto& api = c.healthy();
  set_options team;
  team.tags = {"team", "all"};
  std::map<size_t, int> per_node;
  std::vector<std::string> tagged{"{u1}:a", "{u1}:b"};
  for (int i = 0; i < 60; ++i)
    tagged.push_back("t" + std::to_string(i));
  for (auto& key : tagged) {
    auto w = api.set(key, "v", team);
    REQUIRE_MESSAGE(w, why(w));
    CHECK(w->target == tier::redis);
    ++per_node[owner_of_key(cl, key)];
  }
  REQUIRE(per_node.size() == 3);
  for (int i = 0; i < 20; ++i)
    REQUIRE(api.set("u" + std::to_string(i), "plain"));
  // Every tag set holds members of its own slot only.
  auto sets_of = [&](size_t node, const std::string& tag) {
    std::vector<std::string> found;
    std::string cursor = "0";
    do {
      auto page = cl.command(node, {"SCAN", cursor, "COUNT", "1000"});
      REQUIRE(page.elements.size() == 2);
      cursor = page.elements[0].str;
      for (auto& key : page.elements[1].elements)
        if (commands::is_slot_tag_set("test:", tag, key.str))
          found.push_back(key.str);
    } while (cursor != "0");
    return found;
  };
  size_t members = 0;
  for (size_t node = 0; node < 3; ++node)
    for (auto& set : sets_of(node, "team")) {
      auto slot = key_slot(set);
      for (auto& m : cl.command(node, {"SMEMBERS", set}).elements) {
        CHECK(key_slot(m.str) == slot);
        ++members;
      }
    }
  CHECK(members == tagged.size());
  auto it = api.invalidate_tag("team");
  REQUIRE_MESSAGE(it, why(it));
  CHECK(it->target == tier::redis);
  for (auto& key : tagged) {
    auto r = api.get(key);
    REQUIRE_MESSAGE(r, why(r));
    CHECK_MESSAGE(!r->found, key << " survived invalidate_tag");
    CHECK(cl.command(owner_of_key(cl, key), {"EXISTS", "test:" + key}).integer
          == 0);
  }
  for (size_t node = 0; node < 3; ++node) {
    CHECK(sets_of(node, "team").empty());
    CHECK_FALSE(sets_of(node, "all").empty());
  }
  for (int i = 0; i < 20; ++i) {
    auto r = api.get("u" + std::to_string(i));
    REQUIRE_MESSAGE(r, why(r));
    CHECK(r->found);
  }
  // With one primary stopped, invalidate_tag is answered in time (that
  // node's part by its fallback and dirty-key log); once it is back, none
  // of the tagged values is read again, from Redis or the fallback.
  auto victim = owner_of_key(cl, "t0");
  for (auto& key : tagged)
    REQUIRE(api.set(key, "v2", team));
  for (auto& key : tagged)
    REQUIRE(api.get(key));
  cl.node(victim).pause();
  auto sent = std::chrono::steady_clock::now();
  auto again = api.invalidate_tag("all");
  auto took = std::chrono::steady_clock::now() - sent;
  REQUIRE_MESSAGE(again, why(again));
  CHECK(again->target == tier::fallback);
  CHECK(took < cluster_cache::settings_for(cl).request_timeout + 50ms);
  for (auto& key : tagged) {
    auto r = api.get(key);
    REQUIRE_MESSAGE(r, why(r));
    CHECK_MESSAGE(!r->found, key << " read after invalidate_tag");
  }
  std::this_thread::sleep_for(500ms);
  cl.node(victim).resume();
  REQUIRE_MESSAGE(eventually([&] { return api.health().healthy; }, 20s),
                  api.health().last_error);
  for (auto& key : tagged) {
    auto r = api.get(key);
    REQUIRE_MESSAGE(r, why(r));
    CHECK_MESSAGE(!r->found, key << " read after the stopped node resumed");
  }
  CHECK(api.stats().replayed_tags >= 1);
  // A prefix whose '{' would be closed by the tag set's hash tag: refused.
  auto cfg = cluster_cache::settings_for(cl);
  cfg.key_prefix = "app{7:";
  cache_node braces{cfg};
  set_options one;
  one.tags = {"t"};
  auto refused = braces.api->set("k", "v", one);
  REQUIRE_FALSE(refused);
  CHECK(is(refused.error(), errc::invalid_tag));
  CHECK(braces.api->set("k", "v"));
}

TEST_CASE("Cluster: a request right behind an mset that spans primaries "
          "is applied after it, and a shutdown answers what was asked") {
  redis_cluster cl;
  auto cfg = cluster_cache::settings_for(cl);
  {
    cluster_cache c{cfg};
    c.healthy();
    caf::scoped_actor self{c.sys};
    auto raw = [](const std::string& x) {
      return cache_value{codec_kind::raw, x};
    };
    int older = 0;
    int found_after_invalidate = 0;
    for (int run = 0; run < 40; ++run) {
      // `a` and `b` on different primaries: the mset has a part on each.
      auto a = "order-a" + std::to_string(run);
      std::string b;
      for (int i = 0; b.empty() || owner_of_key(cl, b) == owner_of_key(cl, a);
           ++i)
        b = "order-b" + std::to_string(run) + "-" + std::to_string(i);
      std::vector<key_value> entries{{a, raw("old")}, {b, raw("x")}};
      // Both sent before either is answered, as an actor would.
      auto bulk = self->request(c.cache, 5s, put_atom::value, entries,
                                set_options{});
      auto later = run % 2 == 0
                     ? self->request(c.cache, 5s, put_atom::value, a,
                                     raw("new"), set_options{})
                     : self->request(c.cache, 5s, delete_atom::value, a,
                                     request_options{});
      bulk.receive([](std::vector<write_result>&) {},
                   [](caf::error& err) { FAIL(to_sentence(err)); });
      later.receive([](write_result&) {},
                    [](caf::error& err) { FAIL(to_sentence(err)); });
      auto r = c.api->get(a);
      REQUIRE_MESSAGE(r, why(r));
      if (run % 2 == 0 && (!r->found || r->value.data != "new"))
        ++older;
      if (run % 2 == 1 && r->found)
        ++found_after_invalidate;
    }
    CHECK(older == 0);
    CHECK(found_after_invalidate == 0);
    // All or nothing, as on one Redis: an entry refused on one primary
    // leaves the entries of the others unwritten.
    std::string b;
    for (int i = 0; b.empty() || owner_of_key(cl, b) == owner_of_key(cl, "whole");
         ++i)
      b = "whole-b" + std::to_string(i);
    std::vector<key_value> entries{
      {"whole", raw("v")}, {b, raw(std::string(cfg.max_value_bytes + 1, 'x'))}};
    self->request(c.cache, 5s, put_atom::value, entries, set_options{})
      .receive([](std::vector<write_result>&) { FAIL("accepted"); },
               [](caf::error& err) {
                 CHECK(is(err, errc::value_too_large));
               });
    auto whole = c.api->get("whole");
    REQUIRE_MESSAGE(whole, why(whole));
    CHECK_FALSE(whole->found);
  }
  // An mget over every primary and a health report asked right before the
  // shutdown: both answered, neither left to the client's timeout.
  int unanswered = 0;
  for (int run = 0; run < 5; ++run) {
    cluster_cache c{cfg};
    c.healthy();
    caf::scoped_actor self{c.sys};
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i)
      keys.push_back("exit-" + std::to_string(i));
    auto many = self->request(c.cache, 3s, get_atom::value, keys,
                              request_options{});
    auto report = self->request(c.cache, 3s, health_atom::value);
    self->send_exit(c.cache, caf::exit_reason::user_shutdown);
    count_unanswered<std::vector<get_result>>(many, "mget", unanswered);
    count_unanswered<health_report>(report, "health", unanswered);
  }
  CHECK(unanswered == 0);
  // On a single Redis too, a report asked right before the shutdown.
  redis_process single;
  for (int run = 0; run < 5; ++run) {
    cache_node c{fast_config(single.url())};
    caf::scoped_actor self{c.sys};
    auto report = self->request(c.cache, 3s, health_atom::value);
    auto counters = self->request(c.cache, 3s, stats_atom::value);
    self->send_exit(c.cache, caf::exit_reason::user_shutdown);
    count_unanswered<health_report>(report, "single health", unanswered);
    count_unanswered<stats_report>(counters, "single stats", unanswered);
  }
  CHECK(unanswered == 0);
}

TEST_CASE("Cluster: the fallback's bounds hold for the whole cache, split "
          "over the primaries") {
  redis_cluster cl;
  auto cfg = cluster_cache::settings_for(cl);
  cfg.fallback_max_entries = 30;
  cluster_cache c{cfg};
  auto& api = c.healthy();
  for (int i = 0; i < 200; ++i) {
    REQUIRE(api.set("b" + std::to_string(i), "v"));
    REQUIRE(api.get("b" + std::to_string(i)));
  }
  // The mirror is batched: what it holds settles right after the reads.
  std::this_thread::sleep_for(200ms);
  auto h = api.health();
  CHECK(h.stats.fallback_entries <= 30);
  CHECK(h.stats.fallback_entries >= 15);
  REQUIRE(h.nodes.size() == 3);
  for (auto& n : h.nodes)
    CHECK_MESSAGE(n.fallback_entries <= 10, n.node);
}

TEST_CASE("Cluster: a killed primary affects only its slots, and its replica "
          "takes them over without a read older than an acknowledged write") {
  redis_cluster cl;
  cluster_cache c{cl};
  auto& api = c.healthy();
  std::vector<std::string> keys;
  for (int i = 0; i < 60; ++i)
    keys.push_back("k" + std::to_string(i));
  std::map<std::string, int> acked;
  for (auto& key : keys) {
    auto w = api.set(key, key + ":1");
    REQUIRE_MESSAGE(w, why(w));
    acked[key] = 1;
  }
  auto victim = owner_of_key(cl, keys[0]);
  auto replica = cl.replica_of(victim);
  REQUIRE(replica);
  cl.node(victim).kill();
  auto killed = std::chrono::steady_clock::now();
  // While the shard is down: the other shards answer from Redis, the
  // victim's keys from the fallback, every answer in time, none older.
  int older = 0;
  int other_from_redis = 0;
  int other_total = 0;
  int late = 0;
  int version = 1;
  auto round = [&] {
    ++version;
    for (auto& key : keys) {
      auto value = key + ":" + std::to_string(version);
      auto w = api.set(key, value);
      if (w)
        acked[key] = version;
      auto sent = std::chrono::steady_clock::now();
      auto r = api.get(key);
      if (std::chrono::steady_clock::now() - sent > 350ms)
        ++late;
      REQUIRE_MESSAGE(r, why(r));
      if (r->found) {
        auto got = std::stoi(r->value.data.substr(r->value.data.find(':') + 1));
        if (got < acked[key])
          ++older;
      }
    }
  };
  for (int i = 0; i < 3; ++i) {
    round();
    for (auto& key : keys) {
      if (owner_of_key(cl, key) == victim)
        continue;
      auto r = api.get(key);
      REQUIRE_MESSAGE(r, why(r));
      ++other_total;
      if (r->source == tier::redis && !r->stale)
        ++other_from_redis;
    }
  }
  CHECK(late <= late_allowed(version * static_cast<int>(keys.size())));
  CHECK(older == 0);
  // Health names the node that is down, and only that one.
  auto h = api.health();
  CHECK_FALSE(h.healthy);
  REQUIRE(h.nodes.size() == 3);
  auto victim_name = "127.0.0.1:" + std::to_string(cl.node(victim).port());
  for (auto& n : h.nodes)
    CHECK_MESSAGE(n.healthy == (n.node != victim_name), n.node);
  CHECK_MESSAGE(other_from_redis == other_total,
                other_from_redis << " of " << other_total
                                 << " reads of other shards from Redis");
  // The replica takes over; the cache follows it.
  REQUIRE(eventually(
    [&] {
      auto role = cl.command(*replica, {"ROLE"});
      return !role.elements.empty() && role.elements[0].str == "master";
    },
    20s));
  REQUIRE(eventually(
    [&] {
      round();
      auto r = api.get(keys[0]);
      return r && r->found && r->source == tier::redis;
    },
    20s));
  MESSAGE("the victim's first key was served from Redis again "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - killed)
               .count()
          << " ms after the kill");
  CHECK(older == 0);
  CHECK(late <= late_allowed(version * static_cast<int>(keys.size())));
}

TEST_CASE("Cluster: a write the failed primary acknowledged but never "
          "replicated does not come back as an older value from its replica") {
  redis_cluster cl;
  cluster_cache c{cl};
  auto& api = c.healthy();
  auto primary = owner_of_key(cl, "x");
  auto replica = cl.replica_of(primary);
  REQUIRE(replica);
  // A key of the same shard shows when the cache writes to its new primary.
  std::string probe;
  for (int i = 0; probe.empty(); ++i)
    if (owner_of_key(cl, "p" + std::to_string(i)) == primary)
      probe = "p" + std::to_string(i);
  auto w1 = api.set("x", "x:1");
  REQUIRE_MESSAGE(w1, why(w1));
  REQUIRE(w1->target == tier::redis);
  // x:1 reached the replica once its replication offset caught up.
  auto offset = [&](size_t node) {
    auto info = cl.command(node, {"INFO", "replication"}).str;
    auto at = info.find("master_repl_offset:");
    return at == std::string::npos ? std::string{}
                                   : info.substr(at, info.find('\r', at) - at);
  };
  REQUIRE(eventually([&] { return offset(primary) == offset(*replica); }, 5s));
  // The replica hears nothing more (stopped, and its link closed by the
  // primary, so that x:2 does not wait for it in a socket buffer); the
  // primary acknowledges x:2 alone, as asynchronous replication allows, and
  // dies with it.
  cl.node(*replica).pause();
  auto dropped = cl.command(primary, {"CLIENT", "KILL", "TYPE", "replica"});
  REQUIRE(dropped.integer == 1);
  auto w2 = api.set("x", "x:2");
  REQUIRE_MESSAGE(w2, why(w2));
  REQUIRE(w2->target == tier::redis);
  cl.node(primary).kill();
  cl.node(*replica).resume();
  auto killed = std::chrono::steady_clock::now();
  int older = 0;
  int misses = 0;
  int version = 0;
  auto moved_over = eventually(
    [&] {
      auto r = api.get("x");
      REQUIRE_MESSAGE(r, why(r));
      if (r->found && r->value.data == "x:1")
        ++older;
      if (!r->found)
        ++misses;
      auto value = "v" + std::to_string(++version);
      auto w = api.set(probe, value);
      return w && w->target == tier::redis
             && cl.command(*replica, {"EXISTS", "test:" + probe}).integer == 1;
    },
    30s);
  REQUIRE(moved_over);
  MESSAGE("the cache wrote to the promoted replica "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - killed)
               .count()
          << " ms after the kill; reads of x meanwhile: " << misses
          << " misses");
  auto r = api.get("x");
  REQUIRE_MESSAGE(r, why(r));
  if (r->found && r->value.data == "x:1")
    ++older;
  CHECK_MESSAGE(older == 0, "read x:1 " << older
                                        << " times after x:2 was acknowledged");
  CHECK(api.stats().slots_flushed >= 1);
}

TEST_CASE("Cluster: a slot that moves with more foreign keys than one "
          "CLUSTER GETKEYSINSLOT page still gets flushed") {
  redis_cluster cl;
  cluster_cache c{cl};
  auto& api = c.healthy();
  // 1,500 keys of another program in the slot of "{x}", and one of ours.
  auto primary = owner_of_key(cl, "{x}k");
  auto replica = cl.replica_of(primary);
  REQUIRE(replica);
  std::vector<std::string> mset{"MSET"};
  for (int i = 0; i < 1500; ++i) {
    mset.push_back("other:{x}:" + std::to_string(i));
    mset.push_back("v");
  }
  REQUIRE_FALSE(cl.command(primary, mset).is_error());
  auto w = api.set("{x}k", "ours");
  REQUIRE_MESSAGE(w, why(w));
  REQUIRE(w->target == tier::redis);
  cl.failover(*replica);
  // The new owner deletes our keys of the shard's slots before it reads
  // them, and then serves from Redis again.
  REQUIRE(eventually(
    [&] {
      auto r = api.set("{x}k", "again");
      auto g = api.get("{x}k");
      return r && r->target == tier::redis && g && g->found
             && g->source == tier::redis && !g->stale;
    },
    15s));
  CHECK(eventually([&] { return api.health().healthy; }, 5s));
  // The other program's keys are not ours to delete.
  CHECK(cl.command(*replica, {"DBSIZE"}).integer >= 1500);
}

} // TEST_SUITE
