// The cache on scripted fake Redis Cluster nodes (tests/harness/fake_node):
// the redirect and error cases a real cluster produces only by chance.
// - a MOVED to a node no slot map names, with a host and with the empty
//   host of the spec (`:port`, the host of the node that sent it);
// - an ASK to a port nothing listens on;
// - two nodes that MOVED, or ASK, each other forever (max_redirects);
// - a CLUSTER SLOTS that covers half the slots (CLUSTERDOWN for the rest),
//   and health then: not healthy, naming the slots no primary serves;
// - a node that accepts TCP and never answers, from the start or after
//   it served.
// Every answer comes by the deadline + 50 ms (late_allowed() under the
// sanitizers).

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "runtime/cluster_errors.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/codec.hpp"
#include "tests/harness/fake_node.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

/// The fixture's request timeout (300 ms) plus 50 ms.
constexpr auto late_after = 350ms;

/// The tests' fast settings for a cache seeded with `seeds`.
config settings_for(std::initializer_list<const fake_node*> seeds) {
  std::string url = "redis-cluster://";
  for (auto* x : seeds)
    url += (url.back() == '/' ? "" : ",") + x->address();
  auto cfg = fast_config(url);
  cfg.cluster_refresh_spacing = 100ms;
  cfg.cluster_refresh_period = 1s;
  return cfg;
}

/// The cache's Redis key of `key` (fast_config's prefix).
std::string redis_key(const std::string& key) {
  return "test:" + key;
}

/// The slot of the cache's key `key`.
uint16_t slot_of(const std::string& key) {
  return key_slot(redis_key(key));
}

/// A key `<stem><n>` whose slot lies in [first, last].
std::string key_in(const std::string& stem, uint16_t first, uint16_t last) {
  for (int i = 0;; ++i) {
    auto key = stem + std::to_string(i);
    auto slot = slot_of(key);
    if (slot >= first && slot <= last)
      return key;
  }
}

/// What the cache stores in Redis for the raw value `value`.
std::string stored(const std::string& value) {
  return encode_envelope(cache_value{codec_kind::raw, value});
}

/// A get and how long its answer took.
struct timed_get {
  caf::expected<get_result> result{caf::error{}};
  clock_type::duration took{};

  bool late() const {
    return took > late_after;
  }

  bool from_redis(const std::string& value) const {
    return result && result->found && result->source == tier::redis
           && !result->stale && result->value.data == value;
  }
};

timed_get get(client& api, const std::string& key) {
  timed_get x;
  auto sent = clock_type::now();
  x.result = api.get(key);
  x.took = clock_type::now() - sent;
  return x;
}

long long ms(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::ostream& operator<<(std::ostream& out, const timed_get& x) {
  out << text(x.result);
  if (x.result)
    out << " (" << to_string(x.result->source)
        << (x.result->stale ? ", stale" : "") << ")";
  return out << " in " << ms(x.took) << " ms";
}

std::string describe(const health_report& h) {
  return fmt::format("healthy {}, connected {}, subscribed {}, breaker {}, "
                     "last error '{}'",
                     h.healthy, h.connected, h.subscribed, to_string(h.breaker),
                     h.last_error);
}

/// Waits until the cache reports healthy: every node cache connected.
void require_healthy(client& api) {
  REQUIRE_MESSAGE(eventually([&] { return api.health().healthy; }, 5s),
                  describe(api.health()));
}

/// A handler that answers `GET <key>` (the Redis key) with `reply` and
/// leaves every other command to the fake's defaults.
fake_node::handler_type answer_get(std::string key, std::string reply) {
  return [key, reply](const std::vector<std::string>& argv) {
    if (argv.size() == 2 && argv[0] == "GET" && argv[1] == key)
      return reply;
    return std::string{};
  };
}

/// Gets `key` until it comes from Redis with `value` (at most `tries`
/// times, 50 ms apart); counts the answers past the deadline + 50 ms.
/// Returns the number of gets it took, 0 when none did.
int get_until_redis(client& api, const std::string& key,
                    const std::string& value, int tries, int& late) {
  for (int i = 1; i <= tries; ++i) {
    auto x = get(api, key);
    if (x.late())
      ++late;
    if (x.from_redis(value))
      return i;
    MESSAGE("get " << i << " of " << key << ": " << x);
    std::this_thread::sleep_for(50ms);
  }
  return 0;
}

/// One seed `a` owns every slot (in every map it gives) and answers a get
/// of the key `k` with MOVED, naming `target` (made of node `c`'s port), a
/// node no slot map names, which holds the value. The redirect spawns the
/// cache of c, so the first get may find it unconnected and be answered
/// by the fallback; a later one must come from c.
void moved_case(const std::function<std::string(uint16_t port)>& target) {
  fake_node a;
  fake_node c;
  auto k = std::string{"moved"};
  a.put(redis_key("other"), stored("from-a"));
  c.put(redis_key(k), stored("from-c"));
  a.set_handler(answer_get(
    redis_key(k), fake_resp::error(fmt::format("MOVED {} {}", slot_of(k),
                                               target(c.port())))));
  cache_node node{settings_for({&a})};
  auto& api = *node.api;
  require_healthy(api);
  int late = 0;
  auto took = get_until_redis(api, k, "from-c", 40, late);
  CHECK_MESSAGE(took > 0, "no get of " << k << " came from node c");
  MESSAGE("the get of " << k << " was answered by node c from get " << took);
  CHECK(a.count("GET", redis_key(k)) >= 1);
  CHECK(c.count("GET", redis_key(k)) >= 1);
  // The slot-move rule: node c, which gained the slot, was asked for its
  // keys in it (to delete ours) before it was read.
  auto seen = c.received();
  auto flushed = std::find(seen.begin(), seen.end(),
                           std::vector<std::string>{
                             "CLUSTER", "GETKEYSINSLOT",
                             std::to_string(slot_of(k)), "1000"});
  auto read = std::find(seen.begin(), seen.end(),
                        std::vector<std::string>{"GET", redis_key(k)});
  CHECK_MESSAGE(flushed < read, "node c was read before its slot was flushed");
  // Node a still serves its other keys.
  auto other = get(api, "other");
  CHECK_MESSAGE(other.from_redis("from-a"), other);
  late += other.late() ? 1 : 0;
  CHECK(late <= late_allowed(took + 1));
}

/// Two fake nodes, `a` with slots 0 to 8191 and `b` with the rest, each
/// holding a key of its own slots: `on_a` ("from-a") and `on_b` ("from-b").
struct two_nodes {
  two_nodes() {
    auto slots = cluster_slots_reply({{0, 8191, "127.0.0.1", a.port()},
                                      {8192, 16383, "127.0.0.1", b.port()}});
    a.set_slots(slots);
    b.set_slots(slots);
    a.put(redis_key(on_a), stored("from-a"));
    b.put(redis_key(on_b), stored("from-b"));
  }

  fake_node a;
  fake_node b;
  std::string on_a = key_in("a", 0, 8191);
  std::string on_b = key_in("b", 8192, 16383);
};

/// Two nodes `a` (slots 0 to 8191) and `b` (the rest) that answer a get of
/// `k`, a key of a's slots, with `kind` (MOVED or ASK) naming the other:
/// the redirects stop at max_redirects, and each get is answered in time.
void ping_pong_case(const std::string& kind) {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto& on_a = f.on_a;
  auto& on_b = f.on_b;
  auto k = key_in("loop", 0, 8191);
  auto bounce = [&](const fake_node& other) {
    return answer_get(redis_key(k),
                      fake_resp::error(fmt::format(
                        "{} {} {}", kind, slot_of(k), other.address())));
  };
  a.set_handler(bounce(b));
  b.set_handler(bounce(a));
  cache_node node{settings_for({&a, &b})};
  auto& api = *node.api;
  require_healthy(api);
  auto loops = [&] {
    return a.count("GET", redis_key(k)) + b.count("GET", redis_key(k));
  };
  int late = 0;
  size_t most = 0;
  size_t total = 0;
  constexpr int gets = 4;
  for (int i = 0; i < gets; ++i) {
    auto before = loops();
    auto x = get(api, k);
    // Redirects still under way would show up here.
    std::this_thread::sleep_for(200ms);
    auto seen = loops() - before;
    most = std::max(most, seen);
    MESSAGE("get " << i + 1 << " of " << k << ": " << x << "; " << seen
                   << " GETs of it reached the fakes");
    late += x.late() ? 1 : 0;
    REQUIRE_MESSAGE(x.result, why(x.result));
    CHECK_FALSE(x.result->found);
    CHECK(x.result->source == tier::fallback);
    // A get may not reach Redis at all: after a MOVED moved the slot, the
    // node that gained it answers from its fallback until its flush is
    // done.
    total += seen;
    CHECK(seen <= max_redirects + 1 + 1); // one of slack
  }
  CHECK(total >= 1);
  if (kind == "ASK") {
    // An ASK moves no slot, so nothing stops the loop before the limit.
    CHECK(most > 2);
    CHECK(a.count("ASKING") + b.count("ASKING") >= most - 1);
  } else {
    // A MOVED moves the slot, with a flush on the node that gains it, which
    // answers from its fallback until that is done: the loop ends there.
    CHECK(a.count("CLUSTER", "GETKEYSINSLOT")
            + b.count("CLUSTER", "GETKEYSINSLOT")
          >= 1);
  }
  // Both nodes serve their other keys from Redis.
  int tries = 0;
  CHECK(eventually(
    [&] {
      ++tries;
      auto x = get(api, on_a);
      auto y = get(api, on_b);
      late += (x.late() ? 1 : 0) + (y.late() ? 1 : 0);
      return x.from_redis("from-a") && y.from_redis("from-b");
    },
    3s));
  CHECK(late <= late_allowed(gets + 2 * tries));
}

/// A seed `a` whose CLUSTER SLOTS gives it slots 0 to 8191 and no owner to
/// the rest, and that answers a key command of those with CLUSTERDOWN, as a
/// node of a cluster with cluster-require-full-coverage no does; `mapped`
/// and `unmapped` are keys of either half, both stored on a.
struct partial_map_fixture {
  partial_map_fixture() {
    a.set_slots(cluster_slots_reply({{0, 8191, "127.0.0.1", a.port()}}));
    a.put(redis_key(mapped), stored("mapped"));
    a.put(redis_key(unmapped), stored("unmapped"));
    a.set_handler([](const std::vector<std::string>& argv) {
      auto keyed = argv.size() >= 2
                   && (argv[0] == "GET" || argv[0] == "SET"
                       || argv[0] == "UNLINK");
      if (keyed && key_slot(argv[1]) > 8191)
        return fake_resp::error("CLUSTERDOWN Hash slot not served");
      return std::string{};
    });
    node.emplace(settings_for({&a}));
  }

  fake_node a;
  std::string mapped = key_in("m", 0, 8191);
  std::string unmapped = key_in("u", 8192, 16383);
  std::optional<cache_node> node;
};

} // namespace

TEST_SUITE("cluster") {

TEST_CASE("Cluster fake: a MOVED to a node no slot map names is followed "
          "there") {
  moved_case([](uint16_t port) { return fmt::format("127.0.0.1:{}", port); });
}

TEST_CASE("Cluster fake: a MOVED with an empty host is followed to the host "
          "of the node that sent it") {
  moved_case([](uint16_t port) { return fmt::format(":{}", port); });
}

TEST_CASE("Cluster fake: an ASK to a port nothing listens on is answered by "
          "the deadline and leaves the slot map alone") {
  fake_node a;
  auto dead = free_port();
  auto k = std::string{"asked"};
  a.put(redis_key("other"), stored("from-a"));
  a.set_handler(answer_get(
    redis_key(k),
    fake_resp::error(fmt::format("ASK {} 127.0.0.1:{}", slot_of(k), dead))));
  cache_node node{settings_for({&a})};
  auto& api = *node.api;
  require_healthy(api);
  constexpr int gets = 5;
  int late = 0;
  for (int i = 0; i < gets; ++i) {
    auto x = get(api, k);
    MESSAGE("get " << i + 1 << " of " << k << ": " << x);
    if (x.late())
      ++late;
    if (x.result) {
      CHECK_FALSE(x.result->found);
      CHECK(x.result->source != tier::redis);
    } else {
      CHECK((is(x.result.error(), errc::redis_unavailable)
             || is(x.result.error(), errc::timeout)));
    }
    std::this_thread::sleep_for(100ms);
  }
  // An ASK moves nothing: every get asked node a first.
  CHECK(a.count("GET", redis_key(k)) == gets);
  auto other = get(api, "other");
  CHECK_MESSAGE(other.from_redis("from-a"), other);
  late += other.late() ? 1 : 0;
  CHECK(late <= late_allowed(gets + 1));
}

TEST_CASE("Cluster fake: two nodes that MOVED each other forever cost at "
          "most max_redirects + 1 GETs per get, and the cache stays "
          "responsive") {
  ping_pong_case("MOVED");
}

TEST_CASE("Cluster fake: two nodes that ASK each other forever cost at most "
          "max_redirects + 1 GETs per get, and the cache stays responsive") {
  ping_pong_case("ASK");
}

TEST_CASE("Cluster fake: with a slot map of half the slots, keys of the "
          "other half are answered by the deadline") {
  partial_map_fixture f;
  auto& api = *f.node->api;
  REQUIRE(eventually([&] { return api.health().connected; }, 5s));
  int late = 0;
  constexpr int gets = 5;
  for (int i = 0; i < gets; ++i) {
    auto x = get(api, f.unmapped);
    auto y = get(api, f.mapped);
    MESSAGE("unmapped: " << x << "; mapped: " << y);
    late += (x.late() ? 1 : 0) + (y.late() ? 1 : 0);
    REQUIRE_MESSAGE(x.result, why(x.result));
    // Answered like a get Redis could not serve.
    CHECK_FALSE(x.result->found);
    CHECK(x.result->source == tier::fallback);
    CHECK(x.result->stale);
    CHECK_MESSAGE(y.from_redis("mapped"), y);
  }
  CHECK(f.a.count("GET", redis_key(f.unmapped)) >= 1);
  CHECK(late <= late_allowed(2 * gets));
  // The node of the mapped half is up, its breaker closed (CLUSTERDOWN is
  // no failure of the node), and the misses are counted. Health: the
  // case below.
  auto h = api.health();
  MESSAGE("health: " << describe(h));
  CHECK(h.connected);
  CHECK(h.breaker == breaker_state::closed);
  CHECK(h.stats.misses >= gets);
}

// With half the slots served by no primary, every get of those slots is
// answered by the fallback (a stale miss): health says so, not healthy
// with an empty last_error as it did before.
TEST_CASE("Cluster fake: health does not report a slot map of half the "
          "slots as healthy") {
  partial_map_fixture f;
  auto& api = *f.node->api;
  REQUIRE(eventually([&] { return api.health().connected; }, 5s));
  for (int i = 0; i < 3; ++i)
    CHECK_FALSE(get(api, f.unmapped).from_redis("unmapped"));
  // Not a moment's state: the next periodic fetch (1 s) finds the same map.
  std::this_thread::sleep_for(1500ms);
  auto h = api.health();
  INFO("health: " << describe(h));
  CHECK_FALSE(h.healthy);
  CHECK(h.last_error.find("8192 of 16384 slots to no primary")
        != std::string::npos);
}

TEST_CASE("Cluster fake: a node that accepts TCP and never answers costs "
          "its keys no more than the deadline, and the other node serves "
          "from Redis") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto& on_a = f.on_a;
  auto& on_b = f.on_b;
  // Silent from the start: b takes connections and the handshake, and
  // answers none of it.
  b.set_silent(true);
  cache_node node{settings_for({&a, &b})};
  auto& api = *node.api;
  int late = 0;
  int calls = 0;
  // A get of each node's key: a's from Redis; b's as `b_redis` says.
  auto round = [&](const std::string& phase, bool b_redis) {
    auto x = get(api, on_b);
    auto y = get(api, on_a);
    calls += 2;
    late += (x.late() ? 1 : 0) + (y.late() ? 1 : 0);
    MESSAGE(phase << ": b " << x << "; a " << y);
    REQUIRE_MESSAGE(x.result, why(x.result));
    CHECK_MESSAGE(y.from_redis("from-a"), y);
    if (b_redis)
      return x.from_redis("from-b");
    CHECK(x.result->source != tier::redis);
    return false;
  };
  REQUIRE(eventually([&] { return get(api, on_a).from_redis("from-a"); },
                     5s));
  for (int i = 0; i < 5; ++i)
    round("b silent from the start", false);
  CHECK(b.connections() >= 1);
  CHECK(b.count("PING") >= 1);
  // b answers new connections again: its key comes from Redis.
  b.set_silent(false);
  REQUIRE(eventually([&] { return round("b answers", true); }, 5s));
  // b hangs with its connections up (a SIGSTOP): each get of its key waits
  // for the Redis deadline, then the fallback answers, until the breaker
  // opens and the fallback answers at once.
  b.set_silent(true);
  auto before = b.count("GET", redis_key(on_b));
  for (int i = 0; i < 8; ++i) {
    round("b hangs", false);
    auto x = get(api, on_b);
    ++calls;
    late += x.late() ? 1 : 0;
    REQUIRE_MESSAGE(x.result, why(x.result));
    CHECK(x.result->source == tier::fallback);
  }
  CHECK(b.count("GET", redis_key(on_b)) > before);
  CHECK(late <= late_allowed(calls));
}

} // TEST_SUITE

TEST_SUITE("cluster") {

TEST_CASE("Cluster fake: a tagged set that meets TRYAGAIN is sent again and "
          "lands; under CLUSTERDOWN to its Redis deadline it goes to the "
          "fallback in time, and neither counts against the breaker") {
  fake_node a;
  a.set_slots(cluster_slots_reply({{0, 16383, "127.0.0.1", a.port()}}));
  std::atomic<int> evals{0};
  std::atomic<bool> down{false};
  a.set_handler([&](const std::vector<std::string>& argv) {
    if (argv.empty() || argv[0] != "EVAL")
      return std::string{};
    if (down)
      return fake_resp::error("CLUSTERDOWN The cluster is down");
    if (++evals <= 2)
      return fake_resp::error("TRYAGAIN Multiple keys request during "
                              "rehashing of slot");
    return fake_resp::ok();
  });
  cache_node node{settings_for({&a})};
  auto& api = *node.api;
  require_healthy(api);
  set_options tagged;
  tagged.tags = {"t"};
  auto sent = clock_type::now();
  auto w = api.set("k", "v", tagged);
  auto took = clock_type::now() - sent;
  REQUIRE_MESSAGE(w, why(w));
  CHECK(w->target == tier::redis);
  CHECK(evals == 3);
  CHECK(took <= late_after);
  down = true;
  sent = clock_type::now();
  auto d = api.set("k", "v2", tagged);
  took = clock_type::now() - sent;
  REQUIRE_MESSAGE(d, why(d));
  CHECK(d->target == tier::fallback);
  CHECK(a.count("EVAL") >= 5);
  CHECK(took <= late_after);
  auto h = api.health();
  CHECK(h.breaker == breaker_state::closed);
  CHECK(api.stats().redis_failures == 0);
}

TEST_CASE("Cluster fake: a node that comes back with another replication id "
          "has its keys flushed before it is read, also by a cache that "
          "never wrote them") {
  fake_node a;
  a.set_slots(cluster_slots_reply({{0, 16383, "127.0.0.1", a.port()}}));
  auto k = std::string{"k"};
  auto rk = redis_key(k);
  std::atomic<bool> promoted{false};
  std::atomic<bool> unlinked{false};
  a.set_handler([&](const std::vector<std::string>& argv) {
    if (argv.empty())
      return std::string{};
    if (argv[0] == "INFO") {
      // The same process (run_id), and, once demoted and promoted again,
      // another replication id.
      auto replid = std::string(40, promoted ? 'b' : 'a');
      return fake_resp::bulk(fmt::format("# Server\r\nrun_id:{}\r\n\r\n"
                                         "# Replication\r\nrole:master\r\n"
                                         "master_replid:{}\r\n",
                                         std::string(40, 'r'), replid));
    }
    if (argv.size() == 4 && argv[0] == "CLUSTER"
        && argv[1] == "GETKEYSINSLOT")
      return argv[2] == std::to_string(slot_of(k)) && !unlinked
               ? fake_resp::bulk_array({rk})
               : fake_resp::array({});
    if (argv.size() == 2 && argv[0] == "UNLINK" && argv[1] == rk)
      unlinked = true;
    return std::string{};
  });
  a.put(rk, stored("current"));
  cache_node node{settings_for({&a})};
  auto& api = *node.api;
  require_healthy(api);
  CHECK_MESSAGE(get(api, k).from_redis("current"), "before the fault");
  // The node stops answering; meanwhile it was demoted, took an older
  // dataset from another primary, and was promoted again.
  a.set_silent(true);
  for (int i = 0; i < 8; ++i)
    CHECK_FALSE(get(api, k).late());
  a.put(rk, stored("older"));
  promoted = true;
  // Its connections stay mute (no reset): the cache drops them itself once
  // a command waited probe-timeout, and connects again.
  a.set_silent(false);
  int tries = 0;
  REQUIRE(eventually(
    [&] {
      ++tries;
      auto x = get(api, k);
      CHECK_FALSE(x.late());
      REQUIRE_MESSAGE(x.result, why(x.result));
      CHECK_MESSAGE(!(x.result->found && x.result->value.data == "older"),
                    "read the older dataset's value, get " << tries);
      return x.result->source == tier::redis && !x.result->stale;
    },
    10s));
  CHECK(unlinked);
}

TEST_CASE("Cluster fake: a node that refuses SUBSCRIBE makes health say "
          "why it is not healthy") {
  fake_node a;
  a.set_slots(cluster_slots_reply({{0, 16383, "127.0.0.1", a.port()}}));
  a.set_handler([](const std::vector<std::string>& argv) {
    if (!argv.empty() && argv[0] == "SUBSCRIBE")
      return fake_resp::error("ERR SUBSCRIBE is disabled here");
    return std::string{};
  });
  cache_node node{settings_for({&a})};
  auto& api = *node.api;
  REQUIRE(eventually([&] { return api.health().connected; }, 5s));
  auto h = api.health();
  INFO("health: " << describe(h));
  CHECK_FALSE(h.healthy);
  CHECK_FALSE(h.subscribed);
  CHECK(h.last_error.find("subscription") != std::string::npos);
}

} // TEST_SUITE
