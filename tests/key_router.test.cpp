#include <doctest/doctest.h>

#include <string>

#include "runtime/key_router.hpp"

using namespace cafcache;

TEST_CASE("key_router: every key is owned by the first slot that came up") {
  key_router r{3};
  CHECK_FALSE(r.owner("a").has_value());
  r.set_up(1, true);
  r.set_up(0, true);
  r.set_up(2, true);
  CHECK(r.up_count() == 3);
  CHECK(r.active() == 1u);
  for (auto key : {"a", "b", "c", "key0", "key1", "key2", "key3"})
    CHECK(r.owner(key) == 1u);
}

TEST_CASE("key_router: when the active slot goes down, the next slot up "
          "takes every key, and a slot that comes back does not take them "
          "back") {
  key_router r{3};
  r.set_up(0, true);
  r.set_up(1, true);
  r.set_up(2, true);
  REQUIRE(r.owner("k") == 0u);
  // A standby going down changes nothing.
  r.set_up(2, false);
  CHECK(r.owner("k") == 0u);
  r.set_up(0, false);
  CHECK(r.owner("k") == 1u);
  r.set_up(0, true);
  r.set_up(2, true);
  CHECK(r.owner("k") == 1u);
  // The next slot after the one that went down, wrapping around.
  r.set_up(1, false);
  CHECK(r.owner("k") == 2u);
  r.set_up(2, false);
  CHECK(r.owner("k") == 0u);
  r.set_up(0, false);
  CHECK_FALSE(r.owner("k").has_value());
  CHECK(r.up_count() == 0);
  // The slot that carried the keys last.
  CHECK(r.active() == 0u);
  r.set_up(2, true);
  CHECK(r.owner("k") == 2u);
}

TEST_CASE("key_router: a write in flight keeps its key on its connection "
          "after the keys moved") {
  key_router r{2};
  r.set_up(1, true);
  REQUIRE(r.owner("k") == 1u);
  r.pin("k", 1);
  r.pin("k", 1);
  r.set_up(0, true);
  // Slot 1 stays active while it is up; take it down and up again so the
  // keys move to slot 0.
  r.set_up(1, false);
  r.set_up(1, true);
  REQUIRE(r.owner("other") == 0u);
  // Two writes of "k" are pinned on slot 1 (up again): the key stays there.
  CHECK(r.owner("k") == 1u);
  r.unpin("k", 1);
  CHECK(r.owner("k") == 1u);
  r.unpin("k", 1);
  CHECK(r.owner("k") == 0u);
  CHECK(r.pinned() == 0);
}

TEST_CASE("key_router: a pin on a slot that went down no longer holds the "
          "key, and that slot's late failures do not unpin the new one") {
  key_router r{3};
  r.set_up(0, true);
  r.set_up(1, true);
  r.set_up(2, true);
  r.pin("k", 0);
  r.set_up(0, false);
  CHECK(r.owner("k") == 1u);
  r.pin("k", 1);
  // Slot 0 fails its write now; the pin on slot 1 stays.
  r.unpin("k", 0);
  r.set_up(0, true);
  r.set_up(1, false);
  r.set_up(1, true);
  REQUIRE(r.owner("other") == 2u);
  CHECK(r.owner("k") == 1u);
  r.unpin("k", 1);
  CHECK(r.owner("k") == 2u);
}
