#include <doctest/doctest.h>

#include "runtime/mirror_memo.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

mirror_memo::time_point at(std::chrono::milliseconds ms) {
  return mirror_memo::time_point{} + 1h + ms;
}

} // namespace

TEST_CASE("mirror_memo: an unchanged value is not sent again within refresh") {
  mirror_memo memo{16, 1s};
  CHECK_FALSE(memo.sent_lately("k", "v1", at(0ms)));
  CHECK(memo.sent_lately("k", "v1", at(500ms)));
  CHECK(memo.sent_lately("k", "v1", at(1000ms)));
  // Past refresh it is sent again, and counts from then.
  CHECK_FALSE(memo.sent_lately("k", "v1", at(1001ms)));
  CHECK(memo.sent_lately("k", "v1", at(1500ms)));
}

TEST_CASE("mirror_memo: a changed value is always sent") {
  mirror_memo memo{16, 1s};
  CHECK_FALSE(memo.sent_lately("k", "v1", at(0ms)));
  CHECK_FALSE(memo.sent_lately("k", "v2", at(1ms)));
  // Back to the first value (ABA): the fallback holds v2 now.
  CHECK_FALSE(memo.sent_lately("k", "v1", at(2ms)));
  CHECK(memo.sent_lately("k", "v1", at(3ms)));
}

TEST_CASE("mirror_memo: a forgotten key is sent again; others are not "
          "affected") {
  mirror_memo memo{1024, 1s};
  CHECK_FALSE(memo.sent_lately("a", "v", at(0ms)));
  CHECK_FALSE(memo.sent_lately("b", "v", at(0ms)));
  memo.forget("a");
  CHECK_FALSE(memo.sent_lately("a", "v", at(1ms)));
  CHECK(memo.sent_lately("b", "v", at(1ms)));
}

TEST_CASE("mirror_memo: keys that share a slot only cost a copy sent again") {
  // One slot: every key collides.
  mirror_memo memo{1, 1s};
  CHECK_FALSE(memo.sent_lately("a", "v", at(0ms)));
  CHECK_FALSE(memo.sent_lately("b", "v", at(1ms)));
  CHECK_FALSE(memo.sent_lately("a", "v", at(2ms)));
  // Forgetting a key that no longer holds the slot leaves the slot alone.
  memo.forget("b");
  CHECK(memo.sent_lately("a", "v", at(3ms)));
}

TEST_CASE("mirror_memo: zero slots or zero refresh turn it off") {
  mirror_memo none{0, 1s};
  CHECK_FALSE(none.sent_lately("k", "v", at(0ms)));
  CHECK_FALSE(none.sent_lately("k", "v", at(1ms)));
  mirror_memo instant{16, 0s};
  CHECK_FALSE(instant.sent_lately("k", "v", at(0ms)));
  CHECK_FALSE(instant.sent_lately("k", "v", at(0ms)));
}
