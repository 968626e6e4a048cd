#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>

#include "runtime/recent_writes.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

using time_point = recent_writes::time_point;

bool has(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

TEST_CASE("recent_writes: names each key and tag of the window once") {
  recent_writes log{60s, 100};
  time_point t0{};
  log.key("a", t0);
  log.key("b", t0 + 1s);
  log.key("a", t0 + 2s);
  log.tag("t", t0 + 3s);
  auto x = log.written_since(t0 + 4s);
  CHECK_FALSE(x.overflowed);
  CHECK(x.keys == std::vector<std::string>{"a", "b"});
  CHECK(x.tags == std::vector<std::string>{"t"});
  // The log keeps them: Redis may change its dataset again.
  CHECK(log.written_since(t0 + 5s).keys.size() == 2);
}

TEST_CASE("recent_writes: forgets what is older than the window") {
  recent_writes log{60s, 100};
  time_point t0{};
  log.key("old", t0);
  log.key("new", t0 + 50s);
  auto x = log.written_since(t0 + 61s);
  CHECK_FALSE(has(x.keys, "old"));
  CHECK(has(x.keys, "new"));
  CHECK(log.size() == 1);
}

TEST_CASE("recent_writes: past its bound it reports an overflow for a whole "
          "window, then names the keys again") {
  recent_writes log{60s, 3};
  time_point t0{};
  for (int i = 0; i < 4; ++i)
    log.key("k" + std::to_string(i), t0 + std::chrono::seconds(i));
  CHECK(log.written_since(t0 + 4s).overflowed);
  // Writes go on during the overflow; they are recorded again.
  log.key("later", t0 + 30s);
  CHECK(log.written_since(t0 + 60s).overflowed);
  auto x = log.written_since(t0 + 64s);
  CHECK_FALSE(x.overflowed);
  CHECK(has(x.keys, "later"));
}

TEST_CASE("recent_writes: a namespace flush counts as writing everything") {
  recent_writes log{60s, 100};
  time_point t0{};
  log.everything(t0);
  CHECK(log.written_since(t0 + 1s).overflowed);
  CHECK_FALSE(log.written_since(t0 + 61s).overflowed);
}
