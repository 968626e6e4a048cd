// Tag invalidation against a real redis-server: the tag sets in Redis, the
// fallback, an invalidate_tag acknowledged while Redis was down, and what
// another writer may have left at the tag-set keys.

#include <doctest/doctest.h>

#include "runtime/commands.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

set_options tagged(std::vector<std::string> tags) {
  set_options opts;
  opts.tags = std::move(tags);
  return opts;
}

} // namespace

TEST_CASE("tags live in Redis sets as long as their keys; invalidate_tag "
          "removes the tagged keys only") {
  module_fixture f;
  auto& api = *f.api;
  auto short_lived = tagged({"team:7"});
  short_lived.ttl = std::chrono::seconds(60);
  REQUIRE(api.set("a", "1", short_lived)->target == tier::redis);
  auto long_lived = tagged({"team:7", "eu"});
  long_lived.ttl = std::chrono::seconds(600);
  REQUIRE(api.set("b", "2", long_lived)->target == tier::redis);
  REQUIRE(api.set("c", "3", tagged({"eu"}))->target == tier::redis);
  REQUIRE(api.set("d", "4")->target == tier::redis);
  auto team = commands::tag_set_key("test:", "team:7");
  auto members = f.redis.command({"SMEMBERS", team});
  REQUIRE(members.type == resp_value::kind::array);
  CHECK(members.elements.size() == 2);
  // The tag set outlives its longest-lived member, never the other way.
  auto set_ttl = f.redis.command({"PTTL", team}).integer;
  CHECK(set_ttl > 590'000);
  CHECK(set_ttl <= 600'000);
  // Tagged values read like any other.
  CHECK(text(api.get("b")) == "2");
  REQUIRE(api.invalidate_tag("team:7")->target == tier::redis);
  CHECK(f.redis.command({"EXISTS", "test:a", "test:b", team}).integer == 0);
  CHECK(text(api.get("a")) == "<miss>");
  CHECK(text(api.get("b")) == "<miss>");
  CHECK(text(api.get("c")) == "3");
  CHECK(text(api.get("d")) == "4");
  // An unknown tag is not an error.
  CHECK(api.invalidate_tag("nobody")->target == tier::redis);
  CHECK(is(api.invalidate_tag("").error(), errc::invalid_tag));
  CHECK(api.stats().tag_invalidations == 3);
}

TEST_CASE("invalidate_tag while Redis is down: the fallback forgets at once, "
          "Redis before it is read again") {
  auto dir = temp_dir();
  // Redis keeps every acknowledged write (appendfsync always), so the
  // older-dataset guard, which would delete the recent writes after the
  // restart, is off here.
  module_fixture f{persistent_args(dir),
                   [](config& c) { c.recent_write_window = {}; }};
  auto& api = *f.api;
  REQUIRE(api.set("p1", "old", tagged({"prices"}))->target == tier::redis);
  REQUIRE(api.set("p2", "old", tagged({"prices"}))->target == tier::redis);
  REQUIRE(api.set("other", "kept", tagged({"misc"}))->target == tier::redis);
  // Reads mirror into the fallback, tags included.
  REQUIRE(text(api.get("p1")) == "old");
  f.redis.kill();
  REQUIRE(api.wait_for([](const health_report& h) { return !h.connected; }));
  auto p2 = api.get("p2");
  REQUIRE(p2);
  CHECK(p2->source == tier::fallback);
  CHECK(p2->found);
  CHECK(api.invalidate_tag("prices")->target == tier::fallback);
  CHECK(text(api.get("p1")) == "<miss>");
  CHECK(text(api.get("p2")) == "<miss>");
  CHECK(text(api.get("other")) == "kept");
  CHECK(api.stats().dirty_keys >= 1);
  // Redis returns with the tagged keys still on disk; the replay runs the
  // tag's invalidation before any read goes to Redis.
  f.redis.restart();
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  CHECK(f.redis.command({"EXISTS", "test:p1", "test:p2"}).integer == 0);
  CHECK(text(api.get("p1")) == "<miss>");
  CHECK(text(api.get("other")) == "kept");
  auto stats = api.stats();
  CHECK(stats.replayed_tags == 1);
  CHECK(stats.dirty_keys == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("hostile data: invalidate_tag never deletes a key outside the "
          "prefix that a foreign writer put into a tag set") {
  module_fixture f;
  auto& api = *f.api;
  REQUIRE(api.set("mine", "1", tagged({"tagname"}))->target == tier::redis);
  auto tag_set = commands::tag_set_key(f.settings.key_prefix, "tagname");
  auto other_set = commands::tag_set_key(f.settings.key_prefix, "other");
  REQUIRE(f.redis.command({"SET", "outside:key", "precious"}).is_ok());
  REQUIRE(f.redis.command({"SADD", other_set, "test:x"}).integer == 1);
  // Outside the prefix, the prefix itself, and another tag set of the cache.
  REQUIRE(f.redis.command({"SADD", tag_set, "outside:key", "test:", other_set})
            .integer
          == 3);
  REQUIRE(api.invalidate_tag("tagname")->target == tier::redis);
  auto outside = f.redis.command({"GET", "outside:key"});
  CHECK(outside.type == resp_value::kind::string);
  CHECK(outside.str == "precious");
  CHECK(f.redis.command({"EXISTS", other_set}).integer == 1);
  CHECK(f.redis.command({"EXISTS", "test:mine", tag_set}).integer == 0);
  CHECK(text(api.get("mine")) == "<miss>");
  CHECK(api.health().healthy);
}

TEST_CASE("hostile data: invalidate_tag deletes a string found at the "
          "tag-set key as foreign and stays healthy") {
  module_fixture f;
  auto& api = *f.api;
  auto tag_set = commands::tag_set_key(f.settings.key_prefix, "tagname");
  REQUIRE(f.redis.command({"SET", tag_set, "junk"}).is_ok());
  auto first = api.invalidate_tag("tagname");
  REQUIRE_MESSAGE(first, why(first));
  CHECK(first->target == tier::redis);
  CHECK(f.redis.command({"EXISTS", tag_set}).integer == 0);
  // The tag works as before.
  REQUIRE(api.set("k", "v", tagged({"tagname"}))->target == tier::redis);
  auto second = api.invalidate_tag("tagname");
  REQUIRE_MESSAGE(second, why(second));
  CHECK(second->target == tier::redis);
  CHECK(f.redis.command({"EXISTS", "test:k", tag_set}).integer == 0);
  CHECK(text(api.get("k")) == "<miss>");
  auto health = api.health();
  CHECK(health.healthy);
  CHECK(health.stats.redis_failures == 0);
  CHECK(health.stats.errors == 0);
}

TEST_CASE("hostile data: a tagged set replaces a string found at the tag-set "
          "key with the tag set") {
  module_fixture f;
  auto& api = *f.api;
  auto tag_set = commands::tag_set_key(f.settings.key_prefix, "tagname");
  REQUIRE(f.redis.command({"SET", tag_set, "junk"}).is_ok());
  auto put = api.set("k", "v", tagged({"tagname", "plain"}));
  REQUIRE_MESSAGE(put, why(put));
  CHECK(put->target == tier::redis);
  auto members = f.redis.command({"SMEMBERS", tag_set});
  REQUIRE(members.type == resp_value::kind::array);
  REQUIRE(members.elements.size() == 1);
  CHECK(members.elements[0].str == "test:k");
  auto ttl = f.redis.command({"PTTL", tag_set}).integer;
  CHECK(ttl > 0);
  CHECK(text(api.get("k")) == "v");
  REQUIRE(api.invalidate_tag("tagname")->target == tier::redis);
  CHECK(f.redis.command({"EXISTS", "test:k", tag_set}).integer == 0);
  CHECK(text(api.get("k")) == "<miss>");
  auto health = api.health();
  CHECK(health.healthy);
  CHECK(health.stats.redis_failures == 0);
  CHECK(health.stats.errors == 0);
}

TEST_CASE("hostile data: the replay of a dirty tag whose tag-set key holds a "
          "string finishes, and writes reach Redis again") {
  auto dir = temp_dir();
  // appendfsync always: the older-dataset guard is off (see above).
  module_fixture f{persistent_args(dir),
                   [](config& c) { c.recent_write_window = {}; }};
  auto& api = *f.api;
  REQUIRE(api.set("p1", "old", tagged({"prices"}))->target == tier::redis);
  auto tag_set = commands::tag_set_key(f.settings.key_prefix, "prices");
  REQUIRE(f.redis.command({"UNLINK", tag_set}).integer == 1);
  REQUIRE(f.redis.command({"SET", tag_set, "junk"}).is_ok());
  f.redis.kill();
  REQUIRE(api.wait_for([](const health_report& h) { return !h.connected; }));
  CHECK(api.invalidate_tag("prices")->target == tier::fallback);
  CHECK(api.set("unrelated", "new")->target == tier::fallback);
  f.redis.restart();
  REQUIRE(api.wait_for([](const health_report& h) { return h.healthy; }));
  CHECK(f.redis.command({"EXISTS", tag_set, "test:unrelated"}).integer == 0);
  auto stats = api.stats();
  CHECK(stats.replayed_tags == 1);
  CHECK(stats.replayed_keys == 1);
  CHECK(stats.dirty_keys == 0);
  CHECK(api.set("after", "x")->target == tier::redis);
  CHECK(f.redis.command({"EXISTS", "test:after"}).integer == 1);
  CHECK(text(api.get("after")) == "x");
  std::filesystem::remove_all(dir);
}
