// The breaker actor in virtual time: CAF's test coordinator runs every actor
// on the test thread and advances a simulated clock on request.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/breaker.hpp"
#include "tests/virtual_time.hpp"

using namespace cafcache;
using namespace cafcache::test;
using namespace std::chrono_literals;

namespace {

/// Stands in for the cache actor: records every route and answers each
/// half-open route with a probe result chosen by the test.
struct route_log {
  std::vector<breaker_state> routes;
  int probes = 0;
  bool probe_succeeds = false;
  bool answer_probes = true;
};

caf::behavior fake_cache(caf::event_based_actor* self, route_log* log,
                         breaker_actor* breaker) {
  return {
    [=](route_atom, breaker_state state) {
      log->routes.push_back(state);
      if (state == breaker_state::half_open && log->answer_probes) {
        ++log->probes;
        self->send(*breaker, probe_atom::value, log->probe_succeeds);
      }
    },
  };
}

struct fixture {
  fixture() : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(
                          sys.scheduler())) {
    config c;
    c.breaker_failure_threshold = 5;
    c.breaker_reset_timeout = 30s;
    c.breaker_max_reset_timeout = 300s;
    c.backoff_factor = 2.0;
    c.jitter = 0.0;
    c.max_half_open = 10s;
    c.probe_timeout = 2s;
    cache = sys.spawn(fake_cache, &log, &breaker_handle);
    breaker_handle = sys.spawn(breaker, c,
                               caf::actor_cast<cache_internal_actor>(cache));
    sched.run();
  }

  ~fixture() {
    // The test coordinator only runs actors when asked: terminate them here,
    // or the actor system waits for them forever.
    caf::anon_send_exit(breaker_handle, caf::exit_reason::kill);
    caf::anon_send_exit(cache, caf::exit_reason::kill);
    sched.run();
  }

  void fail(int n) {
    for (int i = 0; i < n; ++i)
      caf::anon_send(breaker_handle, outcome_atom::value, 1u, false);
    sched.run();
  }

  /// Advances virtual time and runs everything that became due.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }

  virtual_time_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  route_log log;
  caf::actor cache;
  breaker_actor breaker_handle;
};

} // namespace

TEST_CASE("breaker actor opens at the threshold, not before") {
  fixture f;
  f.fail(4);
  CHECK(f.log.routes.empty());
  f.fail(1);
  REQUIRE(f.log.routes.size() == 1);
  CHECK(f.log.routes[0] == breaker_state::open);
}

TEST_CASE("a success between failures resets the count") {
  fixture f;
  f.fail(4);
  caf::anon_send(f.breaker_handle, outcome_atom::value, 0u, true);
  f.sched.run();
  f.fail(4);
  CHECK(f.log.routes.empty());
}

TEST_CASE("batched outcomes count like single ones, in order") {
  fixture f;
  // Four failures and then a success: closed, and the count starts over.
  caf::anon_send(f.breaker_handle, outcome_atom::value, 4u, true);
  caf::anon_send(f.breaker_handle, outcome_atom::value, 4u, false);
  f.sched.run();
  CHECK(f.log.routes.empty());
  // One more makes five in a row.
  caf::anon_send(f.breaker_handle, outcome_atom::value, 1u, false);
  f.sched.run();
  REQUIRE(f.log.routes.size() == 1);
  CHECK(f.log.routes[0] == breaker_state::open);
}

TEST_CASE("a success reported behind the failures that opened the breaker "
          "does not close it") {
  fixture f;
  caf::anon_send(f.breaker_handle, outcome_atom::value, 9u, true);
  f.sched.run();
  REQUIRE(f.log.routes.size() == 1);
  CHECK(f.log.routes[0] == breaker_state::open);
}

TEST_CASE("half-open after the reset timeout, exactly one probe, closes on "
          "success") {
  fixture f;
  f.log.probe_succeeds = true;
  f.fail(5);
  f.advance(29s);
  CHECK(f.log.routes.size() == 1);
  CHECK(f.log.probes == 0);
  f.advance(1s);
  CHECK(f.log.probes == 1);
  REQUIRE(f.log.routes.size() == 3);
  CHECK(f.log.routes[1] == breaker_state::half_open);
  CHECK(f.log.routes[2] == breaker_state::closed);
  // Outcomes of regular calls while closed count again from zero.
  f.fail(4);
  CHECK(f.log.routes.size() == 3);
}

TEST_CASE("a failed probe reopens with a doubled timeout, capped") {
  fixture f;
  f.log.probe_succeeds = false;
  f.fail(5);
  f.advance(30s);
  CHECK(f.log.probes == 1);
  CHECK(f.log.routes.back() == breaker_state::open);
  // 60 s now: nothing at 59 s.
  f.advance(59s);
  CHECK(f.log.probes == 1);
  f.advance(1s);
  CHECK(f.log.probes == 2);
  // 120 s, 240 s, then capped at 300 s.
  f.advance(120s);
  CHECK(f.log.probes == 3);
  f.advance(240s);
  CHECK(f.log.probes == 4);
  f.advance(299s);
  CHECK(f.log.probes == 4);
  f.advance(1s);
  CHECK(f.log.probes == 5);
}

TEST_CASE("half-open without a probe result reopens after max-half-open") {
  fixture f;
  f.log.answer_probes = false;
  f.fail(5);
  f.advance(30s);
  REQUIRE(f.log.routes.size() == 2);
  CHECK(f.log.routes[1] == breaker_state::half_open);
  // A late success of a regular call must not close a half-open breaker.
  caf::anon_send(f.breaker_handle, outcome_atom::value, 0u, true);
  f.sched.run();
  f.advance(9s);
  CHECK(f.log.routes.size() == 2);
  f.advance(1s);
  REQUIRE(f.log.routes.size() == 3);
  CHECK(f.log.routes[2] == breaker_state::open);
  // Counted as a failed probe: the next open period is doubled.
  f.advance(59s);
  CHECK(f.log.routes.size() == 3);
  f.advance(1s);
  REQUIRE(f.log.routes.size() == 4);
  CHECK(f.log.routes[3] == breaker_state::half_open);
}

TEST_CASE("connection events: down opens at once, up skips the wait") {
  fixture f;
  f.log.probe_succeeds = true;
  caf::anon_send(f.breaker_handle, conn_atom::value, false);
  f.sched.run();
  REQUIRE(f.log.routes.size() == 1);
  CHECK(f.log.routes[0] == breaker_state::open);
  caf::anon_send(f.breaker_handle, conn_atom::value, true);
  f.sched.run();
  CHECK(f.log.probes == 1);
  CHECK(f.log.routes.back() == breaker_state::closed);
}
