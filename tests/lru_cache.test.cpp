#include "runtime/lru_cache.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

using time_point = lru_cache::time_point;

const time_point t0 = time_point{} + 1h;
const time_point never = time_point::max();

std::string value_of(lru_cache& cache, std::string_view key, time_point now) {
  auto result = cache.peek(key, now);
  return result ? *result : std::string{"<none>"};
}

} // namespace

TEST_CASE("lru_cache: put then get returns the value") {
  lru_cache cache{10, 1000};
  CHECK(cache.put("a", "1", never, t0));
  auto value = cache.get("a", t0);
  REQUIRE(value != nullptr);
  CHECK_EQ(*value, "1");
  CHECK_EQ(cache.get("b", t0), nullptr);
  CHECK_EQ(cache.size(), 1u);
  CHECK_EQ(cache.bytes(), 2u);
  CHECK_EQ(cache.max_entries(), 10u);
  CHECK_EQ(cache.max_bytes(), 1000u);
}

TEST_CASE("lru_cache: the entry bound evicts the least recently used") {
  lru_cache cache{3, 1000};
  CHECK(cache.put("a", "1", never, t0));
  CHECK(cache.put("b", "2", never, t0));
  CHECK(cache.put("c", "3", never, t0));
  CHECK(cache.put("d", "4", never, t0));
  CHECK_EQ(cache.size(), 3u);
  CHECK_EQ(cache.peek("a", t0), nullptr);
  CHECK_EQ(value_of(cache, "b", t0), "2");
  CHECK_EQ(value_of(cache, "d", t0), "4");
  CHECK_EQ(cache.evictions(), 1u);
  CHECK_EQ(cache.expirations(), 0u);
}

TEST_CASE("lru_cache: get refreshes recency but peek does not") {
  lru_cache cache{3, 1000};
  cache.put("a", "1", never, t0);
  cache.put("b", "2", never, t0);
  cache.put("c", "3", never, t0);
  REQUIRE(cache.get("a", t0) != nullptr);
  REQUIRE(cache.peek("b", t0) != nullptr);
  cache.put("d", "4", never, t0);
  CHECK_NE(cache.peek("a", t0), nullptr);
  CHECK_EQ(cache.peek("b", t0), nullptr);
  cache.put("e", "5", never, t0);
  CHECK_EQ(cache.peek("c", t0), nullptr);
  CHECK_NE(cache.peek("a", t0), nullptr);
  CHECK_EQ(cache.evictions(), 2u);
}

TEST_CASE("lru_cache: replacing refreshes recency") {
  lru_cache cache{2, 1000};
  cache.put("a", "1", never, t0);
  cache.put("b", "2", never, t0);
  cache.put("a", "one", never, t0);
  cache.put("c", "3", never, t0);
  CHECK_EQ(value_of(cache, "a", t0), "one");
  CHECK_EQ(cache.peek("b", t0), nullptr);
}

TEST_CASE("lru_cache: replacing updates the byte count") {
  lru_cache cache{10, 1000};
  cache.put("key", "12345", never, t0);
  CHECK_EQ(cache.bytes(), 8u);
  cache.put("key", "1", never, t0);
  CHECK_EQ(cache.bytes(), 4u);
  CHECK_EQ(cache.size(), 1u);
  cache.put("key", std::string(100, 'x'), never, t0);
  CHECK_EQ(cache.bytes(), 103u);
  CHECK_EQ(value_of(cache, "key", t0), std::string(100, 'x'));
}

TEST_CASE("lru_cache: one large put evicts several entries") {
  lru_cache cache{100, 40};
  for (char c = 'a'; c < 'e'; ++c)
    cache.put(std::string(1, c), std::string(9, c), never, t0); // 10 bytes each
  CHECK_EQ(cache.bytes(), 40u);
  CHECK(cache.put("z", std::string(24, 'z'), never, t0)); // 25 bytes
  CHECK_EQ(cache.size(), 2u);
  CHECK_EQ(cache.bytes(), 35u);
  CHECK_EQ(cache.evictions(), 3u);
  CHECK_EQ(cache.peek("a", t0), nullptr);
  CHECK_EQ(cache.peek("b", t0), nullptr);
  CHECK_EQ(cache.peek("c", t0), nullptr);
  CHECK_NE(cache.peek("d", t0), nullptr);
  CHECK_NE(cache.peek("z", t0), nullptr);
}

TEST_CASE("lru_cache: an entry that fits exactly is accepted") {
  lru_cache cache{10, 10};
  cache.put("x", "y", never, t0);
  CHECK(cache.put("k", std::string(9, 'v'), never, t0));
  CHECK_EQ(cache.size(), 1u);
  CHECK_EQ(cache.bytes(), 10u);
}

TEST_CASE("lru_cache: an oversize entry is rejected and removes the old one") {
  lru_cache cache{10, 10};
  cache.put("k", "old", never, t0);
  cache.put("other", "1", never, t0);
  CHECK_FALSE(cache.put("k", std::string(10, 'v'), never, t0));
  CHECK_EQ(cache.peek("k", t0), nullptr);
  CHECK_EQ(value_of(cache, "other", t0), "1");
  CHECK_EQ(cache.size(), 1u);
  CHECK_EQ(cache.bytes(), 6u);
  CHECK_EQ(cache.evictions(), 0u);
}

TEST_CASE("lru_cache: a zero entry bound rejects everything") {
  lru_cache cache{0, 1000};
  CHECK_FALSE(cache.put("a", "1", never, t0));
  CHECK_EQ(cache.size(), 0u);
  CHECK_EQ(cache.bytes(), 0u);
}

TEST_CASE("lru_cache: entries expire at their expiry time") {
  lru_cache cache{10, 1000};
  cache.put("a", "1", t0 + 10s, t0);
  cache.put("b", "2", never, t0);
  CHECK_NE(cache.get("a", t0 + 9s), nullptr);
  CHECK_NE(cache.peek("a", t0 + 10s - 1ns), nullptr);
  CHECK_EQ(cache.peek("a", t0 + 10s), nullptr);
  CHECK_EQ(cache.size(), 2u); // peek leaves the expired entry in place
  CHECK_EQ(cache.expirations(), 0u);
  CHECK_EQ(cache.get("a", t0 + 10s), nullptr);
  CHECK_EQ(cache.size(), 1u);
  CHECK_EQ(cache.bytes(), 2u);
  CHECK_EQ(cache.expirations(), 1u);
  CHECK_NE(cache.get("b", t0 + 1000h), nullptr);
}

TEST_CASE("lru_cache: replacing resets the expiry time") {
  lru_cache cache{10, 1000};
  cache.put("a", "1", t0 + 1s, t0);
  cache.put("a", "2", never, t0);
  CHECK_EQ(value_of(cache, "a", t0 + 1h), "2");
  cache.put("a", "3", t0 + 1s, t0);
  CHECK_EQ(cache.peek("a", t0 + 1s), nullptr);
}

TEST_CASE("lru_cache: purge_expired removes only expired entries") {
  lru_cache cache{10, 1000};
  cache.put("a", "1", t0 + 1s, t0);
  cache.put("b", "2", t0 + 2s, t0);
  cache.put("c", "3", t0 + 3s, t0);
  cache.put("d", "4", never, t0);
  CHECK_EQ(cache.purge_expired(t0), 0u);
  CHECK_EQ(cache.purge_expired(t0 + 2s), 2u);
  CHECK_EQ(cache.size(), 2u);
  CHECK_EQ(cache.bytes(), 4u);
  CHECK_EQ(cache.expirations(), 2u);
  CHECK_EQ(cache.peek("a", t0), nullptr);
  CHECK_EQ(cache.peek("b", t0), nullptr);
  CHECK_NE(cache.peek("c", t0), nullptr);
  CHECK_EQ(cache.purge_expired(t0 + 2s), 0u);
}

TEST_CASE("lru_cache: making room drops expired entries as expirations") {
  lru_cache cache{2, 1000};
  cache.put("a", "1", t0 + 1s, t0);
  cache.put("b", "2", never, t0);
  cache.put("c", "3", never, t0 + 5s);
  CHECK_EQ(cache.expirations(), 1u);
  CHECK_EQ(cache.evictions(), 0u);
  cache.put("d", "4", never, t0 + 5s);
  CHECK_EQ(cache.evictions(), 1u);
  CHECK_EQ(cache.peek("b", t0), nullptr);
}

TEST_CASE("lru_cache: erase and clear") {
  lru_cache cache{10, 1000};
  cache.put("a", "1", never, t0);
  cache.put("bb", "22", never, t0);
  CHECK(cache.erase("a"));
  CHECK_FALSE(cache.erase("a"));
  CHECK_EQ(cache.size(), 1u);
  CHECK_EQ(cache.bytes(), 4u);
  cache.clear();
  CHECK_EQ(cache.size(), 0u);
  CHECK_EQ(cache.bytes(), 0u);
  CHECK_EQ(cache.peek("bb", t0), nullptr);
  CHECK_EQ(cache.evictions(), 0u);
  CHECK(cache.put("bb", "3", never, t0));
  CHECK_EQ(value_of(cache, "bb", t0), "3");
}

TEST_CASE("lru_cache: keys stay valid across many inserts and evictions") {
  lru_cache cache{50, 100000};
  for (int i = 0; i < 1000; ++i) {
    // Odd keys fit the small-string buffer, even ones live on the heap.
    auto key = "key-" + std::to_string(i);
    cache.put(i % 2 ? key : key + std::string(32, '-'), std::to_string(i),
              never, t0);
  }
  CHECK_EQ(cache.size(), 50u);
  CHECK_EQ(cache.evictions(), 950u);
  CHECK_EQ(value_of(cache, "key-999", t0), "999");
  CHECK_EQ(value_of(cache, "key-998" + std::string(32, '-'), t0), "998");
  CHECK_EQ(cache.peek("key-949", t0), nullptr);
}
