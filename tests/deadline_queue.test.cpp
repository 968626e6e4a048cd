#include <doctest/doctest.h>

#include <vector>

#include "runtime/deadline_queue.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

TEST_CASE("deadline queue expires in deadline order, skipping finished items") {
  deadline_queue<int> q;
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  auto a = std::make_shared<int>(1);
  auto b = std::make_shared<int>(2);
  auto c = std::make_shared<int>(3);
  auto d = std::make_shared<int>(4);
  q.push(t0 + 10ms, a);
  q.push(t0 + 30ms, b);
  q.push(t0 + 20ms, c); // earlier than the last: goes to the ordered side
  q.push(t0 + 40ms, d);
  b.reset();            // finished before its deadline
  std::vector<int> seen;
  auto collect = [&](std::shared_ptr<int> x) { seen.push_back(*x); };
  CHECK(q.expire(t0 + 5ms, collect) == 0);
  CHECK(q.expire(t0 + 25ms, collect) == 2);
  CHECK(seen == std::vector<int>{1, 3});
  CHECK(q.expire(t0 + 35ms, collect) == 0);
  CHECK(q.size() == 1);
  CHECK(q.expire(t0 + 40ms, collect) == 1);
  CHECK(seen == std::vector<int>{1, 3, 4});
  CHECK(q.empty());
}
