// Faults of a real Redis Cluster under load (tests/harness/redis_cluster):
// a coordinated failover, a hung primary, a slot moved by hand, a shard
// with no node left, and seeds that are dead or no cluster. Throughout,
// every request is answered by its deadline + 50 ms and no read returns a
// version older than the newest one acknowledged before it was sent.

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>

#include "runtime/cluster_slots.hpp"
#include "tests/harness/redis_cluster.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

/// The fixture's request timeout (300 ms) plus 50 ms.
constexpr auto late_after = 350ms;

/// The tests' fast settings for a cache on `url`.
config settings_for(const std::string& url) {
  auto cfg = fast_config(url);
  cfg.cluster_refresh_spacing = 100ms;
  cfg.cluster_refresh_period = 1s;
  return cfg;
}

/// The node that owns the cache's key `key` ("test:" prefix).
size_t owner_of_key(const redis_cluster& cl, const std::string& key) {
  return cl.owner_of(key_slot("test:" + key));
}

long long ms(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// One key's share of one answered call: `first` marks a call's first key
/// (a bulk call has one per key), `source` is a read's tier or a write's
/// target, `acked` the newest version acknowledged before a read was sent.
struct event {
  time_point sent;
  clock_type::duration took;
  size_t key = 0;
  bool read = false, first = true, failed = false, found = false;
  bool stale = false, wrong = false; // wrong: another key's, or bad size
  tier source = tier::none;
  int got = 0, acked = 0;
};

/// What the events that pass a filter add up to.
struct tally {
  int calls = 0, late = 0;
  long long worst_ms = 0;
  int reads = 0, from_redis = 0, misses = 0; // from_redis: found, not stale
  int not_redis = 0; // reads answered by the fallback or stale
  long long first_not_redis = -1, last_not_redis = -1; // ms after the fault
  int older = 0, wrong = 0, read_errors = 0;
  int writes = 0, to_redis = 0, write_errors = 0;
  std::string first_older;
};

std::ostream& operator<<(std::ostream& out, const tally& t) {
  out << t.calls << " calls (" << t.late << " late, worst " << t.worst_ms
      << " ms); reads " << t.reads << " = " << t.from_redis << " Redis + "
      << (t.reads - t.from_redis - t.misses) << " fallback + " << t.misses
      << " misses, " << t.older << " older, " << t.wrong << " wrong, "
      << t.read_errors << " errors; writes " << t.writes << " = "
      << t.to_redis << " Redis + " << (t.writes - t.to_redis)
      << " fallback, " << t.write_errors << " errors";
  if (t.not_redis > 0)
    out << "; reads not from Redis sent from " << t.first_not_redis << " to "
        << t.last_not_redis << " ms";
  if (!t.first_older.empty())
    out << "; first older: " << t.first_older;
  return out;
}

/// Load on the cache until stop(): values "<key>#<version>" with per-key
/// increasing versions from one writer thread (set, or mset of all keys)
/// and one reader thread (get, or mget of all keys), each call timed. A
/// third thread polls health every 50 ms and, given a node of `cl`,
/// whether that node says cluster_state:ok. Each thread keeps records of
/// its own; the questions about them are for after stop().
class load {
public:
  load(caf::actor_system& sys, cache_actor cache,
       std::vector<std::string> keys, bool bulk,
       const redis_cluster* cl = nullptr, size_t witness = 0)
    : sys_(sys), cache_(std::move(cache)), keys_(std::move(keys)),
      bulk_(bulk), acked_(keys_.size()) {
    threads_.emplace_back([this] { run(false); });
    threads_.emplace_back([this] { run(true); });
    threads_.emplace_back([this, cl, witness] { watch(cl, witness); });
  }

  ~load() {
    stop();
  }

  void stop() {
    running_ = false;
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

  /// Adds up the events that pass `pred`; times are relative to `t0`.
  template <class Pred>
  tally count(time_point t0, Pred pred) const {
    tally t;
    for (auto& per_thread : events_)
      for (auto& x : per_thread)
        if (pred(x))
          add(t, x, t0);
    return t;
  }

  /// Time from each unhealthy sample to the next one, summed.
  long long unhealthy_ms() const {
    long long out = 0;
    for (size_t i = 0; i + 1 < samples_.size(); ++i)
      out += samples_[i].healthy ? 0 : ms(samples_[i + 1].at - samples_[i].at);
    return out;
  }

  /// From the sample before the first in which the witness said
  /// cluster_state:fail (Redis then answers CLUSTERDOWN) to the one after
  /// the last; an empty span when it never did.
  std::pair<time_point, time_point> cluster_down() const {
    std::pair<time_point, time_point> out{time_point::max(),
                                          time_point::min()};
    for (size_t i = 0; i < samples_.size(); ++i)
      if (!samples_[i].cluster_ok) {
        out.first = std::min(out.first, samples_[i > 0 ? i - 1 : 0].at);
        out.second = samples_[std::min(i + 1, samples_.size() - 1)].at;
      }
    return out;
  }

private:
  struct sample {
    time_point at;
    bool healthy, cluster_ok;
  };

  void add(tally& t, const event& x, time_point t0) const {
    if (x.first) {
      ++t.calls;
      t.worst_ms = std::max(t.worst_ms, ms(x.took));
      t.late += x.took > late_after ? 1 : 0;
    }
    t.wrong += x.wrong ? 1 : 0;
    if (x.failed) {
      ++(x.read ? t.read_errors : t.write_errors);
      return;
    }
    if (!x.read) {
      ++t.writes;
      t.to_redis += x.source == tier::redis ? 1 : 0;
      return;
    }
    ++t.reads;
    t.misses += x.found ? 0 : 1;
    t.from_redis += x.found && x.source == tier::redis && !x.stale ? 1 : 0;
    if (x.source != tier::redis || x.stale) {
      ++t.not_redis;
      t.last_not_redis = ms(x.sent - t0);
      if (t.first_not_redis < 0)
        t.first_not_redis = t.last_not_redis;
    }
    if (x.found && !x.wrong && x.got < x.acked && t.older++ == 0)
      t.first_older = keys_[x.key] + " read v" + std::to_string(x.got)
                      + " after v" + std::to_string(x.acked) + " was acked, "
                      + std::to_string(ms(x.sent - t0)) + " ms in ("
                      + to_string(x.source) + (x.stale ? ", stale)" : ")");
  }

  void judge(event& x, const get_result& r) const {
    x.found = r.found;
    x.source = r.source;
    x.stale = r.stale;
    auto& data = r.value.data;
    auto at = data.rfind('#');
    if (r.found
        && (at == std::string::npos || data.substr(0, at) != keys_[x.key]))
      x.wrong = true;
    else if (r.found)
      x.got = std::stoi(data.substr(at + 1));
  }

  /// Asks `xs` and puts the answer into `out`, or returns the error.
  template <class Out, class... Ts>
  caf::error ask(caf::scoped_actor& self, Out& out, const Ts&... xs) {
    caf::error err;
    self->request(cache_, 10s, xs...)
      .receive([&](Out& answer) { out = std::move(answer); },
               [&](caf::error& e) { err = std::move(e); });
    return err;
  }

  void run(bool read) {
    caf::scoped_actor self{sys_};
    std::vector<int> version(keys_.size(), 0);
    for (size_t round = 0; running_; ++round) {
      std::vector<event> xs(bulk_ ? keys_.size() : 1);
      std::vector<std::string> names;
      std::vector<key_value> entries;
      for (size_t j = 0; j < xs.size(); ++j) {
        auto k = bulk_ ? j : round % keys_.size();
        xs[j].key = k;
        xs[j].read = read;
        xs[j].first = j == 0;
        xs[j].acked = acked_[k];
        names.push_back(keys_[k]);
        auto value = keys_[k] + "#" + std::to_string(++version[k]);
        entries.push_back({keys_[k], cache_value{codec_kind::raw, value}});
      }
      caf::error err;
      std::vector<get_result> got(xs.size());
      std::vector<write_result> wrote(xs.size());
      auto sent = clock_type::now();
      if (read && bulk_)
        err = ask(self, got, get_atom::value, names, request_options{});
      else if (read)
        err = ask(self, got[0], get_atom::value, names[0], request_options{});
      else if (bulk_)
        err = ask(self, wrote, put_atom::value, entries, set_options{});
      else
        err = ask(self, wrote[0], put_atom::value, entries[0].key,
                  entries[0].value, set_options{});
      auto took = clock_type::now() - sent;
      auto answers = read ? got.size() : wrote.size();
      for (size_t j = 0; j < xs.size(); ++j) {
        auto& x = xs[j];
        x.sent = sent;
        x.took = took;
        x.failed = static_cast<bool>(err);
        x.wrong = !err && answers != xs.size();
        if (err || x.wrong)
          continue;
        if (read) {
          judge(x, got[j]);
        } else {
          x.source = wrote[j].target;
          acked_[x.key] = version[x.key];
        }
      }
      auto& mine = events_[read ? 1 : 0];
      mine.insert(mine.end(), xs.begin(), xs.end());
    }
  }

  void watch(const redis_cluster* cl, size_t witness) {
    client api{sys_, cache_};
    while (running_) {
      auto at = clock_type::now();
      auto healthy = api.health().healthy;
      auto ok = true;
      try {
        ok = !cl || cl->command(witness, {"CLUSTER", "INFO"})
                          .str.find("cluster_state:ok")
                      != std::string::npos;
      } catch (const std::runtime_error&) {
        ok = false;
      }
      samples_.push_back({at, healthy, ok});
      std::this_thread::sleep_for(50ms);
    }
  }

  caf::actor_system& sys_;
  cache_actor cache_;
  std::vector<std::string> keys_;
  bool bulk_;
  std::vector<std::atomic<int>> acked_;
  std::atomic<bool> running_{true};
  std::vector<event> events_[2]; // of the writer, of the reader
  std::vector<sample> samples_;
  std::vector<std::thread> threads_;
};

void check_in_time_and_not_older(const tally& t) {
  CHECK(t.late <= late_allowed(t.calls));
  CHECK(t.older == 0);
  CHECK(t.wrong == 0);
  CHECK(t.read_errors == 0);
}

/// Whether every key is found in Redis, not stale, now.
bool all_from_redis(client& api, const std::vector<std::string>& keys) {
  for (auto& key : keys) {
    auto r = api.get(key);
    if (!r || !r->found || r->source != tier::redis || r->stale)
      return false;
  }
  return true;
}

/// A cluster, a cache on it that said healthy, and 60 keys over the shards.
struct fault_fixture {
  fault_fixture() : api(*c.api) {
    for (int i = 0; i < 60; ++i)
      keys.push_back("k" + std::to_string(i));
    REQUIRE_MESSAGE(eventually([&] { return api.health().healthy; }, 10s),
                    api.health().last_error);
  }

  /// Which keys node `victim` owns now.
  std::vector<bool> owned_by(size_t victim) const {
    std::vector<bool> out;
    for (auto& key : keys)
      out.push_back(owner_of_key(cl, key) == victim);
    return out;
  }

  /// The primaries other than `victim`.
  std::vector<size_t> other_primaries(size_t victim) const {
    std::vector<size_t> out;
    for (auto p : cl.primaries())
      if (p != victim)
        out.push_back(p);
    REQUIRE(out.size() == 2);
    return out;
  }

  redis_cluster cl;
  cache_node c{settings_for(cl.url())};
  client& api;
  std::vector<std::string> keys;
};

} // namespace

TEST_SUITE("cluster") {

TEST_CASE_FIXTURE(fault_fixture,
                  "Cluster fault: CLUSTER FAILOVER of one shard under load") {
  std::set<size_t> shards;
  for (auto& key : keys)
    shards.insert(owner_of_key(cl, key));
  REQUIRE(shards.size() == 3);
  auto replica = cl.replica_of(owner_of_key(cl, keys[0]));
  REQUIRE(replica);
  load l{c.sys, c.cache, keys, false};
  std::this_thread::sleep_for(500ms);
  auto t0 = clock_type::now();
  cl.failover(*replica);
  auto healthy = eventually([&] { return api.health().healthy; }, 15s);
  auto healed = clock_type::now();
  std::this_thread::sleep_for(1s);
  l.stop();
  auto all = l.count(t0, [](auto&) { return true; });
  MESSAGE("failover: healthy " << ms(healed - t0) << " ms after it began, "
                               << "unhealthy " << l.unhealthy_ms()
                               << " ms in all; " << all);
  CHECK(healthy);
  check_in_time_and_not_older(all);
  CHECK(owner_of_key(cl, keys[0]) == *replica);
  CHECK(eventually([&] { return all_from_redis(api, keys); }, 5s));
}

TEST_CASE_FIXTURE(fault_fixture, "Cluster fault: SIGSTOP of one primary for "
                                 "3 s, then SIGCONT") {
  auto victim = owner_of_key(cl, keys[0]);
  auto replica = cl.replica_of(victim);
  REQUIRE(replica);
  auto on_victim = owned_by(victim);
  auto witness = other_primaries(victim)[0];
  load l{c.sys, c.cache, keys, false, &cl, witness};
  std::this_thread::sleep_for(500ms);
  auto paused = clock_type::now();
  cl.node(victim).pause();
  std::this_thread::sleep_for(3s);
  cl.node(victim).resume();
  auto resumed = clock_type::now();
  auto rejoined = eventually(
    [&] { return cl.command(victim, {"ROLE"}).elements.at(0).str == "slave"; },
    15s);
  auto healthy = eventually([&] { return api.health().healthy; }, 15s);
  auto healed = clock_type::now();
  auto served = eventually([&] { return all_from_redis(api, keys); }, 10s);
  l.stop();
  auto during = [&](auto& x) { return x.sent >= paused && x.sent < resumed; };
  auto others = l.count(
    paused, [&](auto& x) { return during(x) && !on_victim[x.key]; });
  // Redis answers CLUSTERDOWN on every slot while the paused primary is
  // failed and its replica not elected; the writes other shards took in
  // their fallbacks then are deleted in Redis before it is read again (a
  // replay): 500 ms for that, then they have no reason to leave Redis. The
  // state is polled every 50 ms: 100 ms before the first poll that saw it.
  auto down = l.cluster_down();
  auto others_up = l.count(paused, [&](auto& x) {
    return x.sent >= paused && !on_victim[x.key]
           && (x.sent < down.first - 100ms || x.sent > down.second + 500ms);
  });
  auto shard = l.count(
    paused, [&](auto& x) { return during(x) && on_victim[x.key]; });
  auto all = l.count(paused, [](auto&) { return true; });
  MESSAGE("pause: healthy " << ms(healed - resumed)
                            << " ms after SIGCONT, unhealthy "
                            << l.unhealthy_ms() << " ms in all; node "
                            << witness << " said cluster_state:fail from "
                            << ms(down.first - paused) << " to "
                            << ms(down.second - paused) << " ms");
  MESSAGE("other shards during the pause: "
          << others << "\nto the end, without CLUSTERDOWN: " << others_up);
  MESSAGE("paused shard during the pause: " << shard << "\nwhole run: " << all);
  CHECK(rejoined);
  CHECK(healthy);
  CHECK(served);
  check_in_time_and_not_older(all);
  CHECK(others_up.not_redis == 0);
  CHECK(owner_of_key(cl, keys[0]) == *replica);
}

TEST_CASE_FIXTURE(fault_fixture, "Cluster fault: a busy slot resharded by "
                                 "hand under mget/mset") {
  // Three keys in one slot ("test:{hot}N" hashes "hot"), 17 spread.
  std::vector<std::string> bulk{"{hot}0", "{hot}1", "{hot}2"};
  bulk.insert(bulk.end(), keys.begin(), keys.begin() + 17);
  auto hot = bulk[0];
  auto slot = std::to_string(key_slot("test:" + hot));
  REQUIRE(key_slot("test:" + bulk[2]) == key_slot("test:" + hot));
  auto src = owner_of_key(cl, hot);
  auto rest = other_primaries(src);
  auto dst = rest[0];
  auto src_id = cl.command(src, {"CLUSTER", "MYID"}).str;
  auto dst_id = cl.command(dst, {"CLUSTER", "MYID"}).str;
  auto ok = [&](size_t i, const std::vector<std::string>& argv) {
    auto r = cl.command(i, argv);
    CHECK_MESSAGE(!r.is_error(), argv[0] << " " << argv[1] << " on node " << i
                                         << ": " << r.str);
  };
  load l{c.sys, c.cache, bulk, true};
  std::this_thread::sleep_for(500ms);
  auto t0 = clock_type::now();
  ok(dst, {"CLUSTER", "SETSLOT", slot, "IMPORTING", src_id});
  ok(src, {"CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id});
  std::this_thread::sleep_for(300ms);
  // A migrating slot takes no new keys: one listing names them all.
  auto listed = cl.command(src, {"CLUSTER", "GETKEYSINSLOT", slot, "1000"});
  std::vector<std::string> migrate{"MIGRATE", "127.0.0.1",
                                   std::to_string(cl.node(dst).port()),
                                   "", "0", "5000", "KEYS"};
  for (auto& key : listed.elements)
    migrate.push_back(key.str);
  ok(src, migrate);
  CHECK(cl.command(src, {"CLUSTER", "COUNTKEYSINSLOT", slot}).integer == 0);
  std::this_thread::sleep_for(300ms);
  auto moving = clock_type::now();
  for (auto i : {dst, src, rest[1]})
    ok(i, {"CLUSTER", "SETSLOT", slot, "NODE", dst_id});
  auto moved = clock_type::now();
  auto served = eventually([&] { return all_from_redis(api, bulk); }, 10s);
  auto healthy = eventually([&] { return api.health().healthy; }, 10s);
  std::this_thread::sleep_for(300ms);
  l.stop();
  auto all = l.count(t0, [](auto&) { return true; });
  auto in_slot = l.count(t0, [&](auto& x) {
    return x.key < 3 && x.sent >= t0 && x.sent < moved + 1s;
  });
  MESSAGE("reshard of slot " << slot << " from node " << src << " to node "
                             << dst << ": " << listed.elements.size()
                             << " keys migrated; IMPORTING to SETSLOT NODE "
                             << ms(moving - t0) << " ms; unhealthy "
                             << l.unhealthy_ms() << " ms in all");
  MESSAGE("the slot's keys until 1 s after SETSLOT NODE: "
          << in_slot << "\nwhole run (mget/mset, per key): " << all);
  CHECK(served);
  CHECK(healthy);
  check_in_time_and_not_older(all);
  CHECK(owner_of_key(cl, hot) == dst);
  // The new owner serves the key from Redis.
  auto w = api.set(hot, hot + "#1000000");
  CHECK((w && w->target == tier::redis));
  CHECK(cl.command(dst, {"EXISTS", "test:" + hot}).integer == 1);
  auto r = api.get(hot);
  CHECK((r && r->source == tier::redis && text(r) == hot + "#1000000"));
}

TEST_CASE_FIXTURE(fault_fixture, "Cluster fault: a primary and its replica "
                                 "both killed") {
  // By default Redis answers CLUSTERDOWN on every slot once one has no
  // node. No RDB snapshots: the nodes share a directory, and a restarted
  // node would load another node's dump.rdb.
  for (size_t i = 0; i < cl.size(); ++i) {
    cl.command(i, {"CONFIG", "SET", "cluster-require-full-coverage", "no"});
    cl.command(i, {"CONFIG", "SET", "save", ""});
  }
  auto victim = owner_of_key(cl, keys[0]);
  auto replica = cl.replica_of(victim);
  REQUIRE(replica);
  auto on_victim = owned_by(victim);
  load l{c.sys, c.cache, keys, false};
  std::this_thread::sleep_for(500ms);
  cl.node(*replica).kill();
  cl.node(victim).kill();
  auto killed = clock_type::now();
  std::this_thread::sleep_for(3s);
  // Reports answer in time while the shard is gone.
  auto down = clock_type::now();
  auto h = api.health();
  auto health_took = clock_type::now() - down;
  auto st = api.stats();
  auto stats_took = clock_type::now() - down - health_took;
  cl.node(victim).restart();
  cl.node(*replica).restart();
  auto restarted = clock_type::now();
  auto healthy = eventually([&] { return api.health().healthy; }, 20s);
  auto healed = clock_type::now();
  auto served = eventually([&] { return all_from_redis(api, keys); }, 10s);
  l.stop();
  auto during = [&](auto& x) { return x.sent >= killed && x.sent < down; };
  auto others = l.count(
    killed, [&](auto& x) { return during(x) && !on_victim[x.key]; });
  auto shard = l.count(
    killed, [&](auto& x) { return during(x) && on_victim[x.key]; });
  auto all = l.count(killed, [](auto&) { return true; });
  auto name = "127.0.0.1:" + std::to_string(cl.node(victim).port());
  MESSAGE("shard down: health " << ms(health_took) << " ms (healthy "
                                << h.healthy << ", last_error \""
                                << h.last_error << "\"), stats "
                                << ms(stats_took) << " ms (" << st.gets
                                << " gets); healthy "
                                << ms(healed - restarted)
                                << " ms after the restart, unhealthy "
                                << l.unhealthy_ms() << " ms in all");
  MESSAGE("other shards while down: " << others << "\ndead shard: " << shard);
  MESSAGE("whole run: " << all);
  CHECK_FALSE(h.healthy);
  CHECK_MESSAGE(h.last_error.find(name) != std::string::npos, name);
  CHECK(health_took < 1s);
  CHECK(stats_took < 1s);
  check_in_time_and_not_older(all);
  CHECK(shard.from_redis == 0);
  CHECK(others.not_redis == 0);
  CHECK(healthy);
  CHECK(served);
}

TEST_CASE("Cluster fault: seeds that are all dead, and a seed that is no "
          "cluster") {
  auto url = "redis-cluster://127.0.0.1:" + std::to_string(free_port())
             + ",127.0.0.1:" + std::to_string(free_port()) + ",127.0.0.1:"
             + std::to_string(free_port());
  {
    node_config cfg;
    caf::actor_system sys{cfg};
    auto handle = spawn_cache(sys, settings_for(url));
    REQUIRE_MESSAGE(handle, why(handle));
    client api{sys, *handle};
    auto w = api.set("a", "a#1");
    REQUIRE_MESSAGE(w, why(w));
    CHECK(w->target == tier::fallback);
    auto r = api.get("a");
    REQUIRE_MESSAGE(r, why(r));
    CHECK(r->source == tier::fallback);
    std::this_thread::sleep_for(500ms);
    auto h = api.health();
    MESSAGE("dead seeds: get " << text(r) << " from "
                               << std::string{to_string(r->source)}
                               << "; healthy " << h.healthy
                               << ", last_error \"" << h.last_error << "\"");
    CHECK_FALSE(h.healthy);
    CHECK_MESSAGE(h.last_error.find("reachable") != std::string::npos,
                  "last_error does not say that no node is reachable");
    stop_cache(sys, *handle);
  }
  redis_process plain;
  node_config cfg;
  caf::actor_system sys{cfg};
  auto handle = spawn_cache(sys, settings_for("redis-cluster://127.0.0.1:"
                                              + std::to_string(plain.port())));
  CHECK_MESSAGE(!handle, "spawn_cache on a non-cluster Redis succeeded");
  if (handle)
    return stop_cache(sys, *handle);
  MESSAGE("non-cluster seed: spawn_cache failed: " << why(handle));
  CHECK(is(handle.error(), errc::bad_config));
}

} // TEST_SUITE
