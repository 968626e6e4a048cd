#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/ring_queue.hpp"

using namespace cafcache;

TEST_CASE("ring_queue: first in, first out, across growth and wrap-around") {
  ring_queue<std::string> q;
  int next_in = 0;
  int next_out = 0;
  // Interleaved pushes and pops wrap the ring and make it grow while the
  // head is not at slot 0.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round % 7 + 3; ++i)
      q.push_back(std::to_string(next_in++));
    for (int i = 0; i < round % 5 + 1 && !q.empty(); ++i) {
      REQUIRE(q.front() == std::to_string(next_out++));
      q.pop_front();
    }
    CHECK(q.size() == static_cast<size_t>(next_in - next_out));
  }
  std::vector<std::string> rest;
  q.for_each([&](std::string& x) { rest.push_back(x); });
  REQUIRE(rest.size() == q.size());
  for (auto& x : rest)
    CHECK(x == std::to_string(next_out++));
  q.clear();
  CHECK(q.empty());
  q.push_back("again");
  CHECK(q.front() == "again");
}

TEST_CASE("ring_queue: a popped element releases what it owned at once") {
  ring_queue<std::shared_ptr<int>> q;
  auto x = std::make_shared<int>(1);
  q.push_back(std::shared_ptr<int>{x});
  q.emplace_back() = x;
  CHECK(x.use_count() == 3);
  q.pop_front();
  CHECK(x.use_count() == 2);
  q.clear();
  CHECK(x.use_count() == 1);
}
