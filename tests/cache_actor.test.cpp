// The whole cache module on the null backend in virtual time: CAF's test
// coordinator runs every actor on the test thread, and the null store expires
// keys by the same simulated clock, so TTLs of seconds take no real time.

#include <doctest/doctest.h>

#include <functional>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/fallback.hpp"
#include "actors/front.hpp"
#include "messages/errc.hpp"
#include "actors/module.hpp"
#include "runtime/codec.hpp"
#include "tests/virtual_time.hpp"

using namespace cafcache;
using namespace cafcache::test;
using namespace std::chrono_literals;

namespace {

/// What the test's loader answers and how often it was asked.
struct source {
  std::string value = "v1";
  bool fails = false;
  int calls = 0;
};

loader_actor::behavior_type loader(loader_actor::pointer, source* src) {
  return {
    [=](load_atom, const std::string&) -> caf::result<load_result> {
      ++src->calls;
      if (src->fails)
        return caf::make_error(caf::sec::runtime_error, "database down");
      return load_result{true, pack<codec_kind::raw>(src->value)};
    },
  };
}

struct fixture {
  explicit fixture(std::function<void(config&)> tweak = nullptr)
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    config c;
    c.backend = "null";
    c.request_timeout = 500ms;
    if (tweak)
      tweak(c);
    cache_handle = caf::actor_cast<cache_actor>(
      sys.spawn(cafcache::front, c));
    load_handle = sys.spawn(loader, &src);
    sched.run();
  }

  ~fixture() {
    // The test coordinator only runs actors when asked: terminate them here,
    // or the actor system waits for them forever.
    caf::anon_send_exit(cache_handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(load_handle, caf::exit_reason::kill);
    caf::anon_send_exit(signaller, caf::exit_reason::kill);
    sched.run();
    advance(2s);
  }

  /// Sends one request from a fresh actor and returns where its answer lands
  /// once the scheduler runs.
  template <class T, class... Ts>
  std::shared_ptr<answer_slot<T>> ask(Ts... xs) {
    return test::ask<T>(sys, cache_handle, xs...);
  }

  /// get_or_load with a 10 s hard and a 2 s soft TTL, run to its answer.
  caf::expected<get_result> load(const std::string& key) {
    auto slot = get_or_load(key);
    sched.run();
    REQUIRE(slot->value.has_value());
    return std::move(*slot->value);
  }

  std::shared_ptr<answer_slot<get_result>> get_or_load(const std::string& key) {
    set_options opts;
    opts.ttl = 10s;
    opts.soft_ttl = 2s;
    return ask<get_result>(load_atom::value, key, load_handle, opts);
  }

  template <class T>
  T run(std::shared_ptr<answer_slot<T>> slot) {
    return test::run(sched, std::move(slot));
  }

  /// Stores `value` under `key` through the (null) Redis backend.
  write_result put(const std::string& key, const std::string& value) {
    return run(ask<write_result>(put_atom::value, key,
                                 pack<codec_kind::raw>(value), set_options{}));
  }

  /// Sends the cache a route as the breaker would; runs it unless `step`.
  void route(breaker_state state, bool step = false) {
    // From an actor of this node: the cache takes its actors' signals from
    // nowhere else.
    caf::send_as(signaller, caf::actor_cast<cache_internal_actor>(cache_handle),
                 route_atom::value, state);
    if (!step)
      sched.run();
  }

  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  virtual_time_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  source src;
  cache_actor cache_handle;
  /// Sends the cache the signals of its own actors in their place.
  caf::actor signaller = sys.spawn([] { return caf::behavior{[](int) {}}; });
  loader_actor load_handle;
};

std::string text(const get_result& r) {
  return r.found ? r.value.data : "<miss>";
}

} // namespace

TEST_CASE("soft TTL: stale answers while one refresh runs, then fresh") {
  fixture f;
  auto first = f.load("k");
  REQUIRE(first);
  CHECK(text(*first) == "v1");
  CHECK(first->source == tier::loader);
  CHECK(f.src.calls == 1);
  f.advance(1s);
  auto cached = f.load("k");
  REQUIRE(cached);
  CHECK(text(*cached) == "v1");
  CHECK_FALSE(cached->stale);
  CHECK(f.src.calls == 1);
  // Past the soft TTL: every caller gets the old value, marked stale, and the
  // loader runs once in the background.
  f.advance(2s);
  f.src.value = "v2";
  std::vector<std::shared_ptr<answer_slot<get_result>>> callers;
  for (int i = 0; i < 20; ++i)
    callers.push_back(f.get_or_load("k"));
  f.sched.run();
  for (auto& slot : callers) {
    REQUIRE(slot->value.has_value());
    REQUIRE(*slot->value);
    CHECK(text(**slot->value) == "v1");
    CHECK((*slot->value)->stale);
  }
  CHECK(f.src.calls == 2);
  auto fresh = f.load("k");
  REQUIRE(fresh);
  CHECK(text(*fresh) == "v2");
  CHECK_FALSE(fresh->stale);
  CHECK(f.src.calls == 2);
}

TEST_CASE("soft TTL: a failed refresh serves the old value until the hard TTL") {
  fixture f;
  REQUIRE(f.load("k"));
  f.src.fails = true;
  f.advance(3s);
  for (int i = 0; i < 3; ++i) {
    // Each call past the soft TTL may try one refresh; all fail.
    auto r = f.load("k");
    REQUIRE(r);
    CHECK(text(*r) == "v1");
    CHECK(r->stale);
    f.advance(2s);
  }
  CHECK(f.src.calls >= 2);
  // Past the hard TTL (10 s after the store) the value is gone: the load is
  // synchronous, and its failure reaches the caller.
  f.advance(5s);
  auto calls_before = f.src.calls;
  auto gone = f.load("k");
  CHECK(is(gone.error(), errc::load_failed));
  CHECK(f.src.calls == calls_before + 1);
  f.src.fails = false;
  f.src.value = "v3";
  auto reloaded = f.load("k");
  REQUIRE(reloaded);
  CHECK(text(*reloaded) == "v3");
  CHECK(reloaded->source == tier::loader);
}

TEST_CASE("hard TTL: a plain set expires by the store's clock") {
  fixture f;
  set_options opts;
  opts.ttl = 5s;
  f.run(f.ask<write_result>(put_atom::value, std::string{"k"},
                            pack<codec_kind::raw>(std::string{"v"}), opts));
  f.advance(4s);
  auto before = f.run(f.ask<get_result>(get_atom::value, std::string{"k"},
                                        request_options{}));
  CHECK(text(before) == "v");
  f.advance(2s);
  auto after = f.run(f.ask<get_result>(get_atom::value, std::string{"k"},
                                       request_options{}));
  CHECK(text(after) == "<miss>");
}

TEST_CASE("invalidate_tag removes exactly the tagged keys") {
  fixture f;
  set_options tagged;
  tagged.tags = {"team:7", "region:eu"};
  set_options other;
  other.tags = {"team:8"};
  auto set = [&](const std::string& key, const set_options& opts) {
    return f.run(f.ask<write_result>(put_atom::value, key,
                                     pack<codec_kind::raw>(key), opts));
  };
  CHECK(set("a", tagged).target == tier::redis);
  CHECK(set("b", tagged).target == tier::redis);
  CHECK(set("c", other).target == tier::redis);
  CHECK(set("d", set_options{}).target == tier::redis);
  auto removed = f.run(f.ask<write_result>(delete_atom::value, tag_atom::value,
                                           std::string{"team:7"},
                                           request_options{}));
  CHECK(removed.target == tier::redis);
  auto get = [&](const std::string& key) {
    return text(f.run(f.ask<get_result>(get_atom::value, key,
                                        request_options{})));
  };
  CHECK(get("a") == "<miss>");
  CHECK(get("b") == "<miss>");
  CHECK(get("c") == "c");
  CHECK(get("d") == "d");
  // Bad tags are typed errors; nothing is written.
  set_options empty_tag;
  empty_tag.tags = {""};
  auto refused = f.ask<write_result>(put_atom::value, std::string{"e"},
                                     pack<codec_kind::raw>(std::string{"e"}),
                                     empty_tag);
  f.sched.run();
  REQUIRE(refused->value.has_value());
  CHECK(is(refused->value->error(), errc::invalid_tag));
  CHECK(get("e") == "<miss>");
  auto reserved = f.ask<get_result>(get_atom::value, std::string{"\xFFx"},
                                    request_options{});
  f.sched.run();
  REQUIRE(reserved->value.has_value());
  CHECK(is(reserved->value->error(), errc::invalid_key));
}

TEST_CASE("a drain the fallback answers too late still ends in a namespace "
          "flush: no dirty key is forgotten") {
  fixture f{[](config& c) { c.dirty_max_keys = 2; }};
  for (int i = 0; i < 5; ++i)
    REQUIRE(f.put("k" + std::to_string(i), "old").target == tier::redis);
  // The breaker's routes, sent by hand: open, so the invalidations go to the
  // fallback and overflow its dirty log (2 keys).
  f.route(breaker_state::open);
  for (int i = 0; i < 5; ++i)
    CHECK(f.run(f.ask<write_result>(delete_atom::value, "k" + std::to_string(i),
                                    request_options{}))
            .target
          == tier::fallback);
  // Half-open: the cache asks the fallback to drain its log. Only the cache
  // runs, then the probe's time runs out before the fallback answers.
  f.route(breaker_state::half_open, true);
  REQUIRE(f.sched.try_run_once());
  f.sched.advance_time(config{}.probe_timeout + 1ms);
  f.sched.run();
  // Closed again: the next replay must still flush the namespace.
  f.route(breaker_state::closed);
  f.advance(100ms);
  auto stats = f.run(f.ask<stats_report>(stats_atom::value));
  CHECK(stats.namespace_flushes == 1);
  for (int i = 0; i < 5; ++i)
    CHECK(text(f.run(f.ask<get_result>(get_atom::value, "k" + std::to_string(i),
                                       request_options{})))
          == "<miss>");
}

TEST_CASE("a write degraded while the recovery's PING travels is replayed "
          "before Redis is read") {
  fixture f;
  REQUIRE(f.put("k", "old").target == tier::redis);
  f.route(breaker_state::open);
  // Half-open, step by step: the cache asks for the drain, the fallback
  // answers with an empty log, the cache sends its PING.
  f.route(breaker_state::half_open, true);
  for (int i = 0; i < 3; ++i)
    REQUIRE(f.sched.try_run_once());
  // Before Redis answers the PING, an invalidation goes to the fallback.
  caf::anon_send(f.cache_handle, delete_atom::value, std::string{"k"},
                 request_options{});
  f.sched.run();
  f.route(breaker_state::closed);
  f.advance(100ms);
  CHECK(text(f.run(f.ask<get_result>(get_atom::value, std::string{"k"},
                                     request_options{})))
        == "<miss>");
  CHECK(f.run(f.ask<stats_report>(stats_atom::value)).replayed_keys == 1);
}

TEST_CASE("a dropped fallback keeps the writes still waiting for their "
          "replay") {
  // The coherence gap rule and a peer's namespace flush drop the fallback's
  // entries; a write this node acknowledged from its fallback alone is the
  // newest value it has for that key until the replay deletes the key in
  // Redis, and reads of it are served from the fallback until then.
  virtual_time_config cfg;
  caf::actor_system sys{cfg};
  auto& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto fb = sys.spawn(fallback, config{}, cache_internal_actor{});
  auto stored = [](const std::string& v) {
    return encode_envelope(pack<codec_kind::raw>(v));
  };
  caf::anon_send(fb, put_atom::value, std::string{"dirty"}, stored("v2"),
                 caf::timespan{10s}, true);
  caf::anon_send(fb, put_atom::value, std::string{"clean"}, stored("v1"),
                 caf::timespan{10s}, false);
  caf::anon_send(fb, clear_atom::value);
  auto dirty = test::ask<std::vector<std::string>>(sys, fb, get_atom::value,
                                                   std::string{"dirty"});
  auto clean = test::ask<std::vector<std::string>>(sys, fb, get_atom::value,
                                                   std::string{"clean"});
  auto kept = test::run(sched, dirty);
  REQUIRE(kept.size() == 1);
  CHECK(kept.front() == stored("v2"));
  CHECK(test::run(sched, clean).empty());
  caf::anon_send_exit(fb, caf::exit_reason::kill);
  sched.run();
}
