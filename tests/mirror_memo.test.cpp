#include <doctest/doctest.h>

#include <string>
#include <vector>

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

TEST_CASE("mirror_memo: a key new to a full set pushes out the one sent "
          "longest ago, which is sent again next time") {
  // Four slots: one set of four ways, which every key shares.
  mirror_memo memo{4, 1s};
  std::vector<std::string> keys{"a", "b", "c", "d"};
  for (size_t i = 0; i < keys.size(); ++i)
    CHECK_FALSE(memo.sent_lately(keys[i], "v", at(std::chrono::milliseconds(i))));
  for (auto& key : keys)
    CHECK(memo.sent_lately(key, "v", at(4ms)));
  // "a" was sent longest ago.
  CHECK_FALSE(memo.sent_lately("e", "v", at(5ms)));
  CHECK(memo.sent_lately("e", "v", at(6ms)));
  CHECK(memo.sent_lately("d", "v", at(6ms)));
  CHECK_FALSE(memo.sent_lately("a", "v", at(7ms)));
  // Forgetting a key that is not there leaves the others alone.
  memo.forget("b");
  memo.forget("zz");
  CHECK(memo.sent_lately("c", "v", at(8ms)));
  CHECK(memo.sent_lately("a", "v", at(8ms)));
}

TEST_CASE("mirror_memo: of 5,000 keys read in turn ten times within "
          "refresh, few are sent more than once") {
  mirror_memo memo{16384, 1s};
  int sent = 0;
  for (int round = 0; round < 10; ++round)
    for (int i = 0; i < 5000; ++i)
      if (!memo.sent_lately("key:" + std::to_string(i), "v",
                            at(std::chrono::milliseconds(round))))
        ++sent;
  // Each key once, plus the few of sets that got more than four keys (about
  // 1.5 % of the keys, sent at every read). Direct-mapped, the keys that
  // shared a slot (a quarter of them at this load) were sent at every read.
  CHECK(sent >= 5000);
  CHECK(sent < 6000);
}

TEST_CASE("mirror_memo: zero slots or zero refresh turn it off") {
  mirror_memo none{0, 1s};
  CHECK_FALSE(none.sent_lately("k", "v", at(0ms)));
  CHECK_FALSE(none.sent_lately("k", "v", at(1ms)));
  mirror_memo instant{16, 0s};
  CHECK_FALSE(instant.sent_lately("k", "v", at(0ms)));
  CHECK_FALSE(instant.sent_lately("k", "v", at(0ms)));
}
