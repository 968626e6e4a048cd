#include "runtime/lru_cache.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

using time_point = lru_cache::time_point;

const time_point t0 = time_point{} + 1h;
const time_point never = time_point::max();

/// The value `cache` holds for `key`, seen without touching recency or
/// expiry: erase_if visits every entry and erases none.
std::optional<std::string> held(lru_cache& cache, std::string_view key) {
  std::optional<std::string> out;
  cache.erase_if([&](std::string_view k, std::string_view v) {
    if (k == key)
      out = std::string{v};
    return false;
  });
  return out;
}

/// The value a lookup at `now` finds (which marks it recently used).
std::string value_of(lru_cache& cache, std::string_view key, time_point now) {
  auto result = cache.get(key, now);
  return result ? std::string{*result} : std::string{"<none>"};
}

} // namespace

TEST_CASE("lru_cache: put then get returns the value") {
  lru_cache cache{10, 1000};
  CHECK(cache.put("a", "1", never, t0));
  auto value = cache.get("a", t0);
  REQUIRE(value.has_value());
  CHECK_EQ(*value, "1");
  CHECK_FALSE(cache.get("b", t0));
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
  CHECK_FALSE(held(cache, "a"));
  CHECK_EQ(value_of(cache, "b", t0), "2");
  CHECK_EQ(value_of(cache, "d", t0), "4");
  CHECK_EQ(cache.evictions(), 1u);
  CHECK_EQ(cache.expirations(), 0u);
}

TEST_CASE("lru_cache: new bounds drop the least recently used beyond them") {
  lru_cache cache{10, 1000};
  for (auto key : {"a", "b", "c", "d", "e"})
    CHECK(cache.put(key, "12345", never, t0));
  CHECK(value_of(cache, "a", t0) == "12345");
  // Entries: a (most recent), e, d, c, b (least recent).
  cache.set_bounds(3, 1000, t0);
  CHECK_EQ(cache.size(), 3u);
  CHECK_EQ(cache.max_entries(), 3u);
  CHECK_FALSE(held(cache, "b"));
  CHECK_FALSE(held(cache, "c"));
  CHECK(held(cache, "a"));
  CHECK_EQ(cache.evictions(), 2u);
  // Bytes: each entry is 6; 12 keeps two.
  cache.set_bounds(3, 12, t0);
  CHECK_EQ(cache.size(), 2u);
  CHECK_EQ(cache.bytes(), 12u);
  CHECK_FALSE(held(cache, "d"));
  // The new bounds hold for later puts; wider ones drop nothing.
  CHECK(cache.put("f", "12345", never, t0));
  CHECK_EQ(cache.size(), 2u);
  cache.set_bounds(100, 1000, t0);
  CHECK_EQ(cache.size(), 2u);
  CHECK(cache.put("g", "12345", never, t0));
  CHECK_EQ(cache.size(), 3u);
  cache.set_bounds(0, 0, t0);
  CHECK_EQ(cache.size(), 0u);
  CHECK_EQ(cache.bytes(), 0u);
}

TEST_CASE("lru_cache: get refreshes recency, the least recent is evicted") {
  lru_cache cache{3, 1000};
  cache.put("a", "1", never, t0);
  cache.put("b", "2", never, t0);
  cache.put("c", "3", never, t0);
  REQUIRE(cache.get("a", t0));
  REQUIRE(held(cache, "b"));
  cache.put("d", "4", never, t0);
  CHECK(held(cache, "a"));
  CHECK_FALSE(held(cache, "b"));
  cache.put("e", "5", never, t0);
  CHECK_FALSE(held(cache, "c"));
  CHECK(held(cache, "a"));
  CHECK_EQ(cache.evictions(), 2u);
}

TEST_CASE("lru_cache: replacing refreshes recency") {
  lru_cache cache{2, 1000};
  cache.put("a", "1", never, t0);
  cache.put("b", "2", never, t0);
  cache.put("a", "one", never, t0);
  cache.put("c", "3", never, t0);
  CHECK_EQ(value_of(cache, "a", t0), "one");
  CHECK_FALSE(held(cache, "b"));
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
  CHECK_FALSE(held(cache, "a"));
  CHECK_FALSE(held(cache, "b"));
  CHECK_FALSE(held(cache, "c"));
  CHECK(held(cache, "d"));
  CHECK(held(cache, "z"));
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
  CHECK_FALSE(held(cache, "k"));
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
  CHECK(cache.get("a", t0 + 9s));
  CHECK(cache.get("a", t0 + 10s - 1ns));
  CHECK_EQ(cache.expirations(), 0u);
  CHECK_FALSE(cache.get("a", t0 + 10s));
  CHECK_EQ(cache.size(), 1u);
  CHECK_EQ(cache.bytes(), 2u);
  CHECK_EQ(cache.expirations(), 1u);
  CHECK(cache.get("b", t0 + 1000h));
}

TEST_CASE("lru_cache: replacing resets the expiry time") {
  lru_cache cache{10, 1000};
  cache.put("a", "1", t0 + 1s, t0);
  cache.put("a", "2", never, t0);
  CHECK_EQ(value_of(cache, "a", t0 + 1h), "2");
  cache.put("a", "3", t0 + 1s, t0);
  CHECK_FALSE(cache.get("a", t0 + 1s));
}

TEST_CASE("lru_cache: the same value again refreshes expiry and recency") {
  lru_cache cache{2, 1000};
  cache.put("a", "1", t0 + 1s, t0);
  cache.put("b", "2", never, t0);
  cache.put("a", "1", t0 + 1h, t0);
  // "a" is now the most recent: "b" is the one evicted.
  cache.put("c", "3", never, t0);
  CHECK_FALSE(held(cache, "b"));
  CHECK_EQ(value_of(cache, "a", t0 + 30min), "1");
  CHECK_FALSE(cache.get("a", t0 + 1h));
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
  CHECK_FALSE(held(cache, "b"));
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
  CHECK_FALSE(held(cache, "bb"));
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
  CHECK_FALSE(held(cache, "key-949"));
}

TEST_CASE("lru_cache: the entry bound holds at scale") {
  constexpr int n = 100'000;
  lru_cache cache{n, std::numeric_limits<size_t>::max()};
  size_t kept_bytes = 0;
  int rejected = 0;
  for (int i = 0; i < 2 * n; ++i) {
    auto key = "key-" + std::to_string(i);
    auto value = std::string(i % 50, 'v') + std::to_string(i);
    if (i >= n)
      kept_bytes += key.size() + value.size();
    rejected += !cache.put(std::move(key), std::move(value), never, t0);
  }
  CHECK_EQ(rejected, 0);
  CHECK_EQ(cache.size(), size_t{n});
  CHECK_EQ(cache.bytes(), kept_bytes);
  CHECK_EQ(cache.evictions(), uint64_t{n});
  int stale = 0;
  int wrong = 0;
  for (int i = 0; i < 2 * n; ++i) {
    auto value = cache.get("key-" + std::to_string(i), t0);
    if (i < n)
      stale += value.has_value();
    else if (value != std::string(i % 50, 'v') + std::to_string(i))
      ++wrong;
  }
  CHECK_EQ(stale, 0);
  CHECK_EQ(wrong, 0);
}

TEST_CASE("lru_cache: entries survive table growth, erase and replace") {
  constexpr int n = 50'000; // grows the table from 16 to 131072 slots
  lru_cache cache{1'000'000, std::numeric_limits<size_t>::max()};
  auto key_of = [](int i) { return std::to_string(i * 7919) + "-k"; };
  for (int i = 0; i < n; ++i)
    cache.put(key_of(i), std::to_string(i), never, t0);
  REQUIRE_EQ(cache.size(), size_t{n});
  int missing = 0;
  for (int i = 0; i < n; ++i)
    missing += value_of(cache, key_of(i), t0) != std::to_string(i);
  CHECK_EQ(missing, 0);
  // Erasing every third key shifts later probe-run members back; replacing
  // every other remaining key swaps the entry in its slot.
  size_t expected_bytes = 0;
  for (int i = 0; i < n; ++i) {
    if (i % 3 == 0) {
      CHECK(cache.erase(key_of(i)));
    } else if (i % 2 == 0) {
      cache.put(key_of(i), "new-" + std::to_string(i), never, t0);
      expected_bytes += key_of(i).size() + 4 + std::to_string(i).size();
    } else {
      expected_bytes += key_of(i).size() + std::to_string(i).size();
    }
  }
  CHECK_EQ(cache.bytes(), expected_bytes);
  int wrong = 0;
  for (int i = 0; i < n; ++i) {
    auto expected = i % 3 == 0   ? std::string{"<none>"}
                    : i % 2 == 0 ? "new-" + std::to_string(i)
                                 : std::to_string(i);
    wrong += value_of(cache, key_of(i), t0) != expected;
  }
  CHECK_EQ(wrong, 0);
  CHECK_EQ(cache.evictions(), 0u);
}

TEST_CASE("lru_cache: random operations match a naive model") {
  // 95 entries keep a 128-slot table near its maximum load, so probe runs
  // are long and erasing from their middle is common.
  constexpr size_t max_entries = 95;
  constexpr size_t max_bytes = 3000;
  lru_cache cache{max_entries, max_bytes};
  // Front is the most recently used entry.
  std::vector<std::pair<std::string, std::string>> model;
  size_t model_bytes = 0;
  uint64_t model_evictions = 0;
  auto find = [&](const std::string& key) {
    return std::find_if(model.begin(), model.end(),
                        [&](const auto& x) { return x.first == key; });
  };
  auto drop = [&](decltype(model)::iterator pos) {
    model_bytes -= pos->first.size() + pos->second.size();
    model.erase(pos);
  };
  std::mt19937 rng{42};
  int mismatches = 0;
  for (int step = 0; step < 50'000; ++step) {
    auto key = "k" + std::to_string(rng() % 300);
    auto pos = find(key);
    switch (rng() % 4) {
      case 0: { // put
        auto value = std::string(rng() % 60, 'a' + step % 26);
        auto accepted = cache.put(key, value, never, t0);
        mismatches += !accepted;
        if (pos != model.end())
          drop(pos);
        model_bytes += key.size() + value.size();
        model.emplace(model.begin(), key, value);
        while (model.size() > max_entries || model_bytes > max_bytes) {
          drop(std::prev(model.end()));
          ++model_evictions;
        }
        break;
      }
      case 1: { // get
        auto value = cache.get(key, t0);
        if (pos == model.end()) {
          mismatches += value.has_value();
        } else {
          mismatches += value != pos->second;
          std::rotate(model.begin(), pos, std::next(pos));
        }
        break;
      }
      case 2: { // look without touching recency
        auto value = held(cache, key);
        mismatches += pos == model.end() ? value.has_value()
                                         : value != pos->second;
        break;
      }
      default: { // erase
        mismatches += cache.erase(key) != (pos != model.end());
        if (pos != model.end())
          drop(pos);
      }
    }
    mismatches += cache.size() != model.size() || cache.bytes() != model_bytes
                  || cache.evictions() != model_evictions;
  }
  CHECK_EQ(mismatches, 0);
  CHECK_GT(model_evictions, 1000u);
  for (const auto& [key, value] : model)
    CHECK_EQ(value_of(cache, key, t0), value);
}

TEST_CASE("lru_cache: moving transfers the entries") {
  lru_cache source{10, 1000};
  source.put("a", "1", never, t0);
  source.put("b", "2", never, t0);
  lru_cache target{std::move(source)};
  CHECK_EQ(target.size(), 2u);
  CHECK_EQ(target.bytes(), 4u);
  CHECK_EQ(value_of(target, "a", t0), "1");
  CHECK_EQ(source.size(), 0u);
  CHECK_EQ(source.bytes(), 0u);
  CHECK_FALSE(held(source, "a"));
  CHECK(source.put("c", "3", never, t0)); // moved-from stays usable
  lru_cache other{5, 50};
  other.put("x", "9", never, t0);
  other = std::move(target);
  CHECK_EQ(other.max_entries(), 10u);
  CHECK_EQ(other.size(), 2u);
  CHECK_FALSE(held(other, "x"));
  CHECK_EQ(value_of(other, "b", t0), "2");
  CHECK_EQ(target.size(), 0u);
}

TEST_CASE("lru_cache: erase_if removes the matching entries only") {
  lru_cache cache{100, 10000};
  size_t kept_bytes = 0;
  for (int i = 0; i < 50; ++i) {
    auto key = "k" + std::to_string(i);
    std::string value = i % 3 == 0 ? "drop" : "keep";
    if (i % 3 != 0)
      kept_bytes += key.size() + value.size();
    cache.put(key, value, never, t0);
  }
  auto removed = cache.erase_if([](std::string_view, std::string_view value) {
    return value == "drop";
  });
  CHECK_EQ(removed, 17u);
  CHECK_EQ(cache.size(), 33u);
  CHECK_EQ(cache.bytes(), kept_bytes);
  for (int i = 0; i < 50; ++i)
    CHECK(cache.get("k" + std::to_string(i), t0).has_value() == (i % 3 != 0));
}
