#include "runtime/redis_url.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using cafcache::parse_redis_url;
using cafcache::redacted;
using cafcache::redis_endpoint;

namespace {

redis_endpoint parse_ok(std::string_view url) {
  std::string why;
  auto result = parse_redis_url(url, &why);
  INFO("url: ", url, ", why: ", why);
  REQUIRE(result.has_value());
  return *result;
}

std::string parse_error(std::string_view url) {
  std::string why;
  auto result = parse_redis_url(url, &why);
  INFO("url: ", url);
  CHECK_FALSE(result.has_value());
  CHECK_FALSE(why.empty());
  return why;
}

} // namespace

TEST_SUITE("redis_url") {

TEST_CASE("a bare host gets the default port and db") {
  auto x = parse_ok("redis://localhost");
  CHECK(x.host == "localhost");
  CHECK(x.port == 6379);
  CHECK(x.db == 0);
  CHECK(x.user.empty());
  CHECK(x.password.empty());
}

TEST_CASE("port and db are taken from the URL") {
  auto x = parse_ok("redis://cache-01.example.com:6380/3");
  CHECK(x.host == "cache-01.example.com");
  CHECK(x.port == 6380);
  CHECK(x.db == 3);
  CHECK(parse_ok("redis://h:1").port == 1);
  CHECK(parse_ok("redis://h:65535").port == 65535);
  CHECK(parse_ok("redis://h/4294967295").db == 4294967295u);
  CHECK(parse_ok("redis://h/").db == 0);
  CHECK(parse_ok("redis://h:7000/").port == 7000);
}

TEST_CASE("user and password are both recognized") {
  auto x = parse_ok("redis://alice:s3cret@10.0.0.5:7000/15");
  CHECK(x.user == "alice");
  CHECK(x.password == "s3cret");
  CHECK(x.host == "10.0.0.5");
  CHECK(x.port == 7000);
  CHECK(x.db == 15);
}

TEST_CASE("a password without a user is recognized") {
  auto x = parse_ok("redis://:s3cret@host");
  CHECK(x.user.empty());
  CHECK(x.password == "s3cret");
  CHECK(x.host == "host");
}

TEST_CASE("a user without a password is recognized") {
  auto x = parse_ok("redis://alice@host");
  CHECK(x.user == "alice");
  CHECK(x.password.empty());
  auto y = parse_ok("redis://alice:@host");
  CHECK(y.user == "alice");
  CHECK(y.password.empty());
}

TEST_CASE("user and password are percent-decoded") {
  auto x = parse_ok("redis://us%40er:p%40ss%3Aw%2Fd%25%2b@host");
  CHECK(x.user == "us@er");
  CHECK(x.password == "p@ss:w/d%+");
}

TEST_CASE("the last '@' ends the credentials") {
  auto x = parse_ok("redis://u:p@ss/w:rd@host:1/2");
  CHECK(x.user == "u");
  CHECK(x.password == "p@ss/w:rd");
  CHECK(x.host == "host");
  CHECK(x.port == 1);
  CHECK(x.db == 2);
}

TEST_CASE("IPv6 hosts are written in brackets and stored without them") {
  auto x = parse_ok("redis://[::1]:6380/2");
  CHECK(x.host == "::1");
  CHECK(x.port == 6380);
  CHECK(x.db == 2);
  CHECK(parse_ok("redis://[2001:db8::1]").host == "2001:db8::1");
  CHECK(parse_ok("redis://[::ffff:192.0.2.1]/4").host == "::ffff:192.0.2.1");
  auto y = parse_ok("redis://u:p@[fe80::1]:1");
  CHECK(y.host == "fe80::1");
  CHECK(y.password == "p");
}

TEST_CASE("the scheme is case-insensitive") {
  CHECK(parse_ok("REDIS://Host").host == "Host");
}

TEST_CASE("why may be null") {
  CHECK_FALSE(parse_redis_url("http://host", nullptr).has_value());
  CHECK(parse_redis_url("redis://host", nullptr).has_value());
}

TEST_CASE("malformed URLs are rejected with an explanation") {
  const std::vector<std::string> urls{
    "",
    "localhost:6379",
    "redis:/host",
    "http://host",
    "rediss://host",
    "redis://",
    "redis://:6379",
    "redis:///0",
    "redis://user:pw@",
    "redis://user:pw@:6379",
    "redis://[]",
    "redis://[::1",
    "redis://[zz::1]",
    "redis://[127.0.0.1]",
    "redis://[::1]x",
    "redis://[::1]:",
    "redis://!host",
    "redis://ho st",
    "redis://host:",
    "redis://host:/0",
    "redis://host:abc",
    "redis://host:-1",
    "redis://host:+1",
    "redis://host:0",
    "redis://host:65536",
    "redis://host:99999999999999999999999",
    "redis://host:6379x",
    "redis://host:6379:1",
    "redis://host/abc",
    "redis://host/-1",
    "redis://host/1x",
    "redis://host/0/1",
    "redis://host/4294967296",
    "redis://host?timeout=1",
    "redis://host/0?timeout=1",
    "redis://host#frag",
    "redis://u%zz@host",
    "redis://u%4@host",
    "redis://u:p%@host",
    "redis://u:p%g0@host",
  };
  for (const auto& url : urls)
    parse_error(url);
}

TEST_CASE("explanations name the problem") {
  CHECK(parse_error("http://host").find("'http'") != std::string::npos);
  CHECK(parse_error("rediss://host").find("TLS") != std::string::npos);
  CHECK(parse_error("redis://").find("empty host") != std::string::npos);
  CHECK(parse_error("redis://host:abc").find("not a number")
        != std::string::npos);
  CHECK(parse_error("redis://host:65536").find("out of range")
        != std::string::npos);
  CHECK(parse_error("redis://host/abc").find("not a number")
        != std::string::npos);
  CHECK(parse_error("redis://host:1/2?x").find("'?x'") != std::string::npos);
  CHECK(parse_error("redis://u%zz@host").find("'%zz'") != std::string::npos);
}

TEST_CASE("explanations never quote the password") {
  CHECK(parse_error("redi://user:hunter2@host").find("hunter2")
        == std::string::npos);
  CHECK(parse_error("user:hunter2@host").find("hunter2")
        == std::string::npos);
  CHECK(parse_error("redis://user:hunter2%zz@host").find("hunter2")
        == std::string::npos);
  CHECK(parse_error("redis://user:hunter2@host:x").find("hunter2")
        == std::string::npos);
}

TEST_CASE("redacted hides the password and spells out port and db") {
  auto x = parse_ok("redis://alice:hunter2@host:7000/5");
  auto text = redacted(x);
  CHECK(text == "redis://alice:***@host:7000/5");
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(redacted(parse_ok("redis://:hunter2@host"))
        == "redis://:***@host:6379/0");
  CHECK(redacted(parse_ok("redis://host")) == "redis://host:6379/0");
  CHECK(redacted(parse_ok("redis://alice@host")) == "redis://alice@host:6379/0");
  CHECK(redacted(parse_ok("redis://[::1]:6380/2"))
        == "redis://[::1]:6380/2");
}

TEST_CASE("redacted percent-encodes the user so the result parses back") {
  redis_endpoint x;
  x.host = "h";
  x.user = "us@er:x/y";
  x.password = "p@ss";
  auto text = redacted(x);
  CHECK(text == "redis://us%40er%3Ax%2Fy:***@h:6379/0");
  auto y = parse_ok(text);
  CHECK(y.user == x.user);
  CHECK(y.password == "***");
  CHECK(y.host == x.host);
}

TEST_CASE("redis-sentinel:// names the Sentinels and the master") {
  auto x = parse_ok("redis-sentinel://app:s3cret@10.0.0.1,10.0.0.2:26380,"
                    "[::1]:26381/3#my%2Dprimary");
  REQUIRE(x.sentinel_managed());
  REQUIRE(x.sentinels.size() == 3);
  CHECK(x.sentinels[0].host == "10.0.0.1");
  CHECK(x.sentinels[0].port == 26379);
  CHECK(x.sentinels[1].host == "10.0.0.2");
  CHECK(x.sentinels[1].port == 26380);
  CHECK(x.sentinels[2].host == "::1");
  CHECK(x.sentinels[2].port == 26381);
  CHECK(x.master_name == "my-primary");
  CHECK(x.user == "app");
  CHECK(x.password == "s3cret");
  CHECK(x.db == 3);
  CHECK(x.host.empty());
  CHECK_FALSE(parse_ok("redis://host").sentinel_managed());
  auto one = parse_ok("REDIS-SENTINEL://s1#m");
  CHECK(one.sentinels.size() == 1);
  CHECK(one.master_name == "m");
}

TEST_CASE("bad redis-sentinel:// URLs are explained") {
  CHECK(parse_error("redis-sentinel://s1,s2").find("#master-name")
        != std::string::npos);
  CHECK(parse_error("redis-sentinel://s1#").find("#master-name")
        != std::string::npos);
  CHECK(parse_error("redis-sentinel://s1,,s2#m").find("empty host")
        != std::string::npos);
  CHECK(parse_error("redis-sentinel://s1:x,s2#m").find("'x'")
        != std::string::npos);
  CHECK(parse_error("redis-sentinel://s1:0#m").find("out of range")
        != std::string::npos);
  CHECK(parse_error("redis-sentinel://s1/x#m").find("not a number")
        != std::string::npos);
  CHECK(parse_error("redis-sentinel://u:hunter2@s1").find("hunter2")
        == std::string::npos);
}

TEST_CASE("redis-cluster:// names the seed nodes") {
  auto x = parse_ok("redis-cluster://app:s%40cret@10.0.0.1,10.0.0.2:7001,"
                    "[::1]:7002");
  REQUIRE(x.cluster());
  CHECK_FALSE(x.sentinel_managed());
  REQUIRE(x.cluster_seeds.size() == 3);
  CHECK(x.cluster_seeds[0].host == "10.0.0.1");
  CHECK(x.cluster_seeds[0].port == 6379);
  CHECK(x.cluster_seeds[1].port == 7001);
  CHECK(x.cluster_seeds[2].host == "::1");
  CHECK(x.password == "s@cret");
  CHECK(redacted(x)
        == "redis-cluster://app:***@10.0.0.1:6379,10.0.0.2:7001,[::1]:7002/0");
  CHECK_FALSE(parse_ok("redis://host").cluster());
  // A node's own URL keeps the credentials, encoded, and parses back.
  auto node = parse_ok(node_url(x, x.cluster_seeds[1]));
  CHECK_FALSE(node.cluster());
  CHECK(node.host == "10.0.0.2");
  CHECK(node.port == 7001);
  CHECK(node.user == "app");
  CHECK(node.password == "s@cret");
}

TEST_CASE("bad redis-cluster:// URLs are explained") {
  CHECK(parse_error("redis-cluster://n1/2").find("only database 0")
        != std::string::npos);
  CHECK(parse_error("redis-cluster://n1,,n2").find("empty host")
        != std::string::npos);
  CHECK(parse_error("redis-cluster://n1:99999").find("out of range")
        != std::string::npos);
  CHECK(parse_error("redis-cluster://u:hunter2@n1/3").find("hunter2")
        == std::string::npos);
}

TEST_CASE("redacted redis-sentinel:// parses back to the same Sentinels") {
  auto x = parse_ok("redis-sentinel://app:s3cret@a,b:1/2#m%23x");
  auto text = redacted(x);
  CHECK(text == "redis-sentinel://app:***@a:26379,b:1/2#m%23x");
  auto y = parse_ok(text);
  REQUIRE(y.sentinels.size() == 2);
  CHECK(y.sentinels[1].port == 1);
  CHECK(y.master_name == "m#x");
  CHECK(y.password == "***");
}

} // TEST_SUITE
