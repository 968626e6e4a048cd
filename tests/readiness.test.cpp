// When spawn_cache may return (runtime/readiness).

#include <doctest/doctest.h>

#include "runtime/readiness.hpp"

using namespace cafcache;

TEST_CASE("readiness: decided by the last slot to connect") {
  readiness r{3, false};
  CHECK_FALSE(r.slot_connected(0));
  CHECK_FALSE(r.slot_connected(2));
  CHECK_FALSE(r.slot_connected(0));
  CHECK_FALSE(r.decided());
  CHECK(r.slot_connected(1));
  CHECK(r.decided());
  // Later reports do not decide again.
  CHECK_FALSE(r.slot_connected(1));
  CHECK_FALSE(r.slot_failed());
}

TEST_CASE("readiness: with coherence, the subscription's outcome is awaited "
          "too, in either order") {
  readiness a{2, true};
  CHECK_FALSE(a.slot_connected(0));
  CHECK_FALSE(a.slot_connected(1));
  CHECK(a.subscription_reported());
  readiness b{2, true};
  CHECK_FALSE(b.subscription_reported());
  CHECK_FALSE(b.slot_connected(1));
  CHECK(b.slot_connected(0));
}

TEST_CASE("readiness: one failed slot decides at once") {
  readiness r{4, true};
  CHECK_FALSE(r.slot_connected(0));
  CHECK(r.slot_failed());
  CHECK(r.decided());
  CHECK_FALSE(r.subscription_reported());
}

TEST_CASE("readiness: a failed subscription alone does not decide") {
  readiness r{2, true};
  CHECK_FALSE(r.subscription_reported());
  CHECK_FALSE(r.decided());
  CHECK_FALSE(r.slot_connected(0));
  CHECK(r.slot_connected(1));
}
