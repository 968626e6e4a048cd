// The slots a node cache still has to flush.

#include <doctest/doctest.h>

#include "runtime/slot_set.hpp"

using namespace cafcache;

TEST_CASE("a slot set holds each slot once, in order, until it is erased") {
  slot_set x;
  CHECK(x.empty());
  CHECK(x.add({5, 7, 5, 16384, 9}) == 3);
  CHECK(x.size() == 3);
  CHECK(x.add({7, 11}) == 1);
  CHECK(x.peek(2) == std::vector<uint16_t>{9, 11});
  CHECK(x.peek(10) == std::vector<uint16_t>{5, 7, 9, 11});
  x.erase(7);
  x.erase(7);
  x.erase(12);
  CHECK(x.peek(10) == std::vector<uint16_t>{5, 9, 11});
  // An erased slot can come back.
  CHECK(x.add({7}) == 1);
  CHECK(x.size() == 4);
  for (auto slot : x.peek(10))
    x.erase(slot);
  CHECK(x.empty());
  CHECK(x.peek(3).empty());
}
