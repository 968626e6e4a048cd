#include <doctest/doctest.h>

#include <caf/defaults.hpp>

#include <fstream>
#include <sstream>

#include "messages/errc.hpp"
#include "runtime/config.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

TEST_CASE("the defaults are valid and match the documented promises") {
  config c;
  CHECK_FALSE(c.validate());
  CHECK(c.default_ttl == 3600s);
  CHECK(c.breaker_failure_threshold == 5);
  CHECK(c.breaker_reset_timeout == 30s);
  CHECK(c.pool_size == 2);
}

TEST_CASE("invalid fields are refused with a sentence naming the field") {
  auto refused = [](auto tweak, const char* field) {
    config c;
    tweak(c);
    auto err = c.validate();
    REQUIRE(is(err, errc::bad_config));
    CHECK(to_sentence(err).find(field) != std::string::npos);
  };
  refused([](config& c) { c.redis_url = "redis://host:0"; }, "redis-url");
  refused([](config& c) { c.redis_url = "memcached://x"; }, "redis-url");
  refused([](config& c) { c.pool_size = 0; }, "pool-size");
  refused([](config& c) { c.request_timeout = 0s; }, "request-timeout");
  refused([](config& c) { c.fallback_reserve = 1s; }, "fallback-reserve");
  refused([](config& c) { c.jitter = 1.5; }, "jitter");
  refused([](config& c) { c.breaker_failure_threshold = 0; },
          "breaker-failure-threshold");
  refused([](config& c) { c.max_half_open = 1ms; }, "probe-timeout");
}

TEST_CASE("every field is read from CAF's config, command line included") {
  system_config cfg;
  std::vector<std::string> args{"--cafcache.pool-size=3",
                                "--cafcache.request-timeout=250ms",
                                "--cafcache.key-prefix=app:",
                                "--cafcache.jitter=0.5"};
  std::vector<char*> argv{const_cast<char*>("test")};
  for (auto& a : args)
    argv.push_back(a.data());
  cfg.parse(static_cast<int>(argv.size()), argv.data());
  auto c = config::from(cfg);
  CHECK(c.pool_size == 3);
  CHECK(c.request_timeout == 250ms);
  CHECK(c.key_prefix == "app:");
  CHECK(c.jitter == doctest::Approx(0.5));
  // Untouched fields keep their defaults.
  CHECK(c.default_ttl == 3600s);
}

TEST_CASE("an idle worker sleeps until woken, unless told otherwise") {
  auto polls = [](std::vector<std::string> args) {
    system_config cfg;
    std::vector<char*> argv{const_cast<char*>("test")};
    for (auto& a : args)
      argv.push_back(a.data());
    cfg.parse(static_cast<int>(argv.size()), argv.data());
    return caf::get_or(cfg, "work-stealing.moderate-poll-attempts",
                       caf::defaults::work_stealing::moderate_poll_attempts);
  };
  CHECK(polls({}) == 0u);
  CHECK(polls({"--work-stealing.moderate-poll-attempts=500"}) == 500u);
}

TEST_CASE("the README option table is the generated one") {
  std::ifstream in{CAFCACHE_SOURCE_DIR "/README.md"};
  REQUIRE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  auto table = options_markdown();
  CHECK_MESSAGE(buf.str().find(table) != std::string::npos,
                "README.md is out of date; paste the output of "
                "build/tools/cafcache-options:\n"
                  << table);
}

TEST_CASE("fields are read from an INI config file") {
  system_config cfg;
  std::istringstream ini{"[cafcache]\n"
                         "pool-size=4\n"
                         "redis-url=\"redis://10.0.0.7:6380/2\"\n"
                         "breaker-reset-timeout=10s\n"};
  std::vector<char*> argv{const_cast<char*>("test")};
  REQUIRE_FALSE(cfg.parse(1, argv.data(), ini));
  auto c = config::from(cfg);
  CHECK(c.pool_size == 4);
  CHECK(c.redis_url == "redis://10.0.0.7:6380/2");
  CHECK(c.breaker_reset_timeout == 10s);
  CHECK(c.endpoint().db == 2);
  CHECK(c.endpoint().port == 6380);
}

TEST_CASE("the backend is one of three names, parsed once") {
  CHECK(parse_backend("redis") == backend_kind::redis);
  CHECK(parse_backend("memory") == backend_kind::memory);
  CHECK(parse_backend("null") == backend_kind::null);
  CHECK_FALSE(parse_backend("Redis").has_value());
  CHECK_FALSE(parse_backend("").has_value());
  config c;
  c.backend = "memory";
  CHECK(c.backend_type() == backend_kind::memory);
  c.backend = "nope";
  CHECK(is(c.validate(), errc::bad_config));
}
