#include <doctest/doctest.h>

#include <string>

#include "runtime/key_router.hpp"

using namespace cafcache;

namespace {

/// A key whose home slot in a router of `n` slots is `slot`.
std::string key_on(size_t slot, size_t n) {
  key_router r{n};
  for (int i = 0;; ++i) {
    auto key = "key" + std::to_string(i);
    if (r.home(key) == slot)
      return key;
  }
}

} // namespace

TEST_CASE("key_router: a key is owned by its home slot while that is up") {
  key_router r{3};
  auto key = key_on(1, 3);
  CHECK_FALSE(r.owner(key).has_value());
  r.set_up(0, true);
  r.set_up(1, true);
  r.set_up(2, true);
  CHECK(r.up_count() == 3);
  CHECK(r.owner(key) == 1u);
}

TEST_CASE("key_router: a key whose home is down moves to the next slot up") {
  key_router r{3};
  auto key = key_on(1, 3);
  r.set_up(0, true);
  r.set_up(2, true);
  CHECK(r.owner(key) == 2u);
  r.set_up(2, false);
  CHECK(r.owner(key) == 0u);
  r.set_up(0, false);
  CHECK_FALSE(r.owner(key).has_value());
  CHECK(r.up_count() == 0);
}

TEST_CASE("key_router: a write in flight keeps its key on its connection "
          "after the home slot is back") {
  key_router r{2};
  auto key = key_on(0, 2);
  r.set_up(1, true);
  REQUIRE(r.owner(key) == 1u);
  r.pin(key, 1);
  r.pin(key, 1);
  r.set_up(0, true);
  // Two writes still in flight on slot 1: the key stays there.
  CHECK(r.owner(key) == 1u);
  r.unpin(key, 1);
  CHECK(r.owner(key) == 1u);
  r.unpin(key, 1);
  CHECK(r.owner(key) == 0u);
  CHECK(r.pinned() == 0);
}

TEST_CASE("key_router: a pin on a slot that went down no longer holds the "
          "key, and that slot's late failures do not unpin the new one") {
  key_router r{3};
  auto key = key_on(0, 3);
  r.set_up(0, true);
  r.set_up(1, true);
  r.set_up(2, true);
  r.pin(key, 0);
  r.set_up(0, false);
  CHECK(r.owner(key) == 1u);
  r.pin(key, 1);
  // Slot 0 fails its write now; the pin on slot 1 stays.
  r.unpin(key, 0);
  r.set_up(0, true);
  CHECK(r.owner(key) == 1u);
  r.unpin(key, 1);
  CHECK(r.owner(key) == 0u);
}
