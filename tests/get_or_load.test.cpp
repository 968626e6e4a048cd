// get_or_load against a real redis-server: single-flight, loader errors and
// silence, negative caching, TTL jitter.

#include <doctest/doctest.h>

#include <atomic>
#include <deque>

#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

/// A source of truth that counts its calls. Keys starting with "none" do
/// not exist, "fail" keys answer with an error, "mute" keys never answer.
struct loader_log {
  std::atomic<int> calls{0};
  /// Appended to every value, so that a refresh is visible.
  std::atomic<int> version{1};
  /// Every call fails while set.
  std::atomic<bool> failing{false};
};

caf::behavior slow_loader(caf::event_based_actor* self, loader_log* log) {
  // Answers leave 50 ms after their request, so that concurrent misses pile
  // up behind one load.
  using pending = std::pair<caf::response_promise, caf::expected<load_result>>;
  auto queue = std::make_shared<std::deque<pending>>();
  return {
    [=](load_atom, const std::string& key) -> caf::result<load_result> {
      ++log->calls;
      auto rp = self->make_response_promise();
      if (key.rfind("fail", 0) == 0 || log->failing) {
        queue->emplace_back(rp, caf::make_error(caf::sec::runtime_error,
                                                "database is down"));
        self->delayed_send(self, 50ms, caf::ok_atom::value);
        return caf::delegated<load_result>{};
      }
      if (key.rfind("mute", 0) == 0)
        return caf::delegated<load_result>{};
      load_result r;
      r.found = key.rfind("none", 0) != 0;
      if (r.found)
        r.value = cache_value{
          codec_kind::raw,
          "row-" + key + (log->version > 1
                            ? "-v" + std::to_string(log->version.load())
                            : std::string{})};
      queue->emplace_back(rp, r);
      self->delayed_send(self, 50ms, caf::ok_atom::value);
      return caf::delegated<load_result>{};
    },
    [=](caf::ok_atom) {
      auto& [rp, answer] = queue->front();
      if (answer)
        rp.deliver(*answer);
      else
        rp.deliver(answer.error());
      queue->pop_front();
    },
  };
}

struct fixture {
  explicit fixture(std::function<void(config&)> tune = nullptr)
    : sys(cfg) {
    settings = fast_config(redis.url());
    settings.request_timeout = 1s;
    if (tune)
      tune(settings);
    auto handle = spawn_cache(sys, settings);
    REQUIRE(handle);
    cache = *handle;
    loader = caf::actor_cast<loader_actor>(sys.spawn(slow_loader, &log));
  }

  ~fixture() {
    caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
    stop_cache(sys, cache);
  }

  /// Fires `n` concurrent get_or_load requests and waits for all answers.
  std::vector<caf::expected<get_result>> burst(const std::string& key, int n,
                                               set_options opts = {}) {
    std::vector<caf::expected<get_result>> out(n, caf::error{});
    caf::scoped_actor self{sys};
    auto collector = sys.spawn([&, n](caf::event_based_actor* me) {
      for (int i = 0; i < n; ++i)
        me->request(cache, 10s, load_atom::value, key, loader, opts)
          .then([&out, i](get_result& r) { out[i] = std::move(r); },
                [&out, i](caf::error& e) { out[i] = std::move(e); });
    });
    self->monitor(collector);
    self->receive([](const caf::down_msg&) {});
    return out;
  }

  redis_process redis;
  node_config cfg;
  caf::actor_system sys;
  config settings;
  cache_actor cache;
  loader_log log;
  loader_actor loader;
};

} // namespace

TEST_CASE("1000 concurrent get_or_load on a cold key call the loader once") {
  fixture f;
  auto answers = f.burst("user:1", 1000);
  CHECK(f.log.calls == 1);
  int from_loader = 0;
  for (auto& a : answers) {
    REQUIRE(a);
    CHECK(a->found);
    CHECK(a->value.data == "row-user:1");
    from_loader += a->source == tier::loader;
  }
  CHECK(from_loader == 1000);
  // Stored: the next call is a plain hit from Redis, no loader call.
  auto again = f.burst("user:1", 1);
  REQUIRE(again[0]);
  CHECK(again[0]->source == tier::redis);
  CHECK(f.log.calls == 1);
  auto raw = f.redis.command({"GET", "test:user:1"});
  CHECK(decode_envelope(raw.str)->data == "row-user:1");
  client api{f.sys, f.cache};
  auto stats = api.stats();
  CHECK(stats.loads == 1);
  CHECK(stats.coalesced == 999);
}

TEST_CASE("loader errors reach every waiter and are not cached") {
  fixture f;
  auto answers = f.burst("fail:1", 20);
  CHECK(f.log.calls == 1);
  for (auto& a : answers) {
    REQUIRE_FALSE(a);
    CHECK(is(a.error(), errc::load_failed));
  }
  CHECK(f.redis.command({"EXISTS", "test:fail:1"}).integer == 0);
  f.burst("fail:1", 1);
  CHECK(f.log.calls == 2);
}

TEST_CASE("a loader that never answers is cut off by the deadline") {
  fixture f;
  set_options opts;
  opts.deadline = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto answers = f.burst("mute:1", 5, opts);
  auto took = std::chrono::steady_clock::now() - start;
  for (auto& a : answers) {
    REQUIRE_FALSE(a);
    CHECK(is(a.error(), errc::timeout));
  }
  CHECK(took < 200ms + 250ms);
  // The abandoned flight does not swallow the next request.
  f.burst("mute:1", 1, opts);
  CHECK(f.log.calls == 2);
}

TEST_CASE("negative caching is off by default and caches misses when on") {
  SUBCASE("off") {
    fixture f;
    auto a = f.burst("none:1", 1);
    REQUIRE(a[0]);
    CHECK_FALSE(a[0]->found);
    f.burst("none:1", 1);
    CHECK(f.log.calls == 2);
  }
  SUBCASE("on") {
    fixture f{[](config& c) { c.negative_ttl = 2s; }};
    f.burst("none:1", 3);
    CHECK(f.log.calls == 1);
    auto b = f.burst("none:1", 1);
    REQUIRE(b[0]);
    CHECK_FALSE(b[0]->found);
    CHECK(f.log.calls == 1);
    auto pttl = f.redis.command({"PTTL", "test:none:1"}).integer;
    CHECK(pttl > 0);
    CHECK(pttl <= 2000);
    // A plain get sees a miss, not a decode error.
    client api{f.sys, f.cache};
    CHECK(text(api.get("none:1")) == "<miss>");
    CHECK(api.stats().decode_errors == 0);
  }
}

TEST_CASE("TTL jitter spreads expiries of keys written together") {
  fixture f{[](config& c) { c.ttl_jitter = 0.2; }};
  client api{f.sys, f.cache};
  set_options opts;
  opts.ttl = 100s;
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 50; ++i) {
    auto key = "j" + std::to_string(i);
    REQUIRE(api.set(key, "v", opts));
    auto pttl = f.redis.command({"PTTL", "test:" + key}).integer;
    lo = std::min(lo, pttl);
    hi = std::max(hi, pttl);
  }
  CHECK(lo >= 79000);
  CHECK(hi <= 120000);
  CHECK(hi - lo > 10000);
}

TEST_CASE("soft TTL: stale value served while one background refresh runs") {
  fixture f;
  set_options opts;
  opts.soft_ttl = 300ms;
  opts.ttl = 10s;
  auto first = f.burst("soft:1", 1, opts);
  REQUIRE(first[0]);
  CHECK(first[0]->value.data == "row-soft:1");
  CHECK(f.log.calls == 1);
  // Fresh: a plain hit.
  auto fresh = f.burst("soft:1", 1, opts);
  REQUIRE(fresh[0]);
  CHECK(fresh[0]->source == tier::redis);
  CHECK_FALSE(fresh[0]->stale);
  CHECK(f.log.calls == 1);
  // Past the soft TTL: the old value at once, marked stale, and exactly one
  // refresh for many callers.
  std::this_thread::sleep_for(400ms);
  f.log.version = 2;
  auto stale = f.burst("soft:1", 50, opts);
  for (auto& a : stale) {
    REQUIRE(a);
    CHECK(a->value.data == "row-soft:1");
    CHECK(a->stale);
  }
  std::this_thread::sleep_for(200ms);
  CHECK(f.log.calls == 2);
  auto refreshed = f.burst("soft:1", 1, opts);
  REQUIRE(refreshed[0]);
  CHECK(refreshed[0]->value.data == "row-soft:1-v2");
  CHECK_FALSE(refreshed[0]->stale);
  // The hard TTL in Redis is the full ttl.
  CHECK(f.redis.command({"PTTL", "test:soft:1"}).integer > 9000);
}

TEST_CASE("soft TTL: a failed refresh keeps serving the old value; past the "
          "hard TTL the load is synchronous") {
  fixture f;
  set_options opts;
  opts.soft_ttl = 200ms;
  opts.ttl = 1s;
  REQUIRE(f.burst("soft:2", 1, opts)[0]);
  std::this_thread::sleep_for(300ms);
  f.log.failing = true;
  auto stale = f.burst("soft:2", 1, opts);
  REQUIRE(stale[0]);
  CHECK(stale[0]->value.data == "row-soft:2");
  CHECK(stale[0]->stale);
  std::this_thread::sleep_for(200ms);
  CHECK(f.log.calls == 2);
  auto still = f.burst("soft:2", 1, opts);
  REQUIRE(still[0]);
  CHECK(still[0]->value.data == "row-soft:2");
  // Hard TTL over: nothing to serve, the loader is asked synchronously.
  std::this_thread::sleep_for(1s);
  f.log.failing = false;
  f.log.version = 3;
  auto hard = f.burst("soft:2", 1, opts);
  REQUIRE(hard[0]);
  CHECK(hard[0]->source == tier::loader);
  CHECK(hard[0]->value.data == "row-soft:2-v3");
}
