// How a master is chosen from the Sentinels' answers (runtime/sentinel), and
// what a Sentinel that cannot be reached is told apart from.

#include <doctest/doctest.h>

#include "messages/errc.hpp"
#include "runtime/sentinel.hpp"
#include "tests/harness/redis_process.hpp"

using namespace cafcache;

namespace {

redis_endpoint sentinels(std::vector<host_port> at) {
  redis_endpoint ep;
  ep.sentinels = std::move(at);
  ep.master_name = "primary";
  return ep;
}

sentinel_answer unreachable(std::string why) {
  sentinel_answer x;
  x.error = std::move(why);
  return x;
}

sentinel_answer unknown() {
  sentinel_answer x;
  x.what = sentinel_answer::kind::unknown_name;
  return x;
}

sentinel_answer master(std::string host, uint16_t port) {
  sentinel_answer x;
  x.what = sentinel_answer::kind::master;
  x.address = {std::move(host), port};
  return x;
}

} // namespace

TEST_SUITE("sentinel") {

TEST_CASE("the first Sentinel that names the master wins") {
  auto ep = sentinels({{"s1", 1}, {"s2", 2}, {"s3", 3}});
  auto x = choose_master(ep,
                         {unreachable("refused"), unknown(),
                          master("10.0.0.9", 6380)});
  REQUIRE(x);
  CHECK(x->host == "10.0.0.9");
  CHECK(x->port == 6380);
}

TEST_CASE("no Sentinel reachable and an unknown name are different errors") {
  auto ep = sentinels({{"s1", 1}, {"::1", 2}});
  auto down = choose_master(ep,
                            {unreachable("Connection refused"),
                             unreachable("timeout")});
  REQUIRE_FALSE(down);
  CHECK(is(down.error(), errc::redis_unavailable));
  auto text = to_sentence(down.error());
  CHECK(text.find("no Sentinel reachable") != std::string::npos);
  CHECK(text.find("s1:1 (Connection refused)") != std::string::npos);
  CHECK(text.find("[::1]:2 (timeout)") != std::string::npos);
  auto nameless = choose_master(ep,
                                {unreachable("timeout"), unknown()});
  REQUIRE_FALSE(nameless);
  text = to_sentence(nameless.error());
  CHECK(text.find("no Sentinel knows the master name 'primary'")
        != std::string::npos);
}

TEST_CASE("refused Sentinel credentials are auth_failed, not unreachable") {
  auto ep = sentinels({{"s1", 1}, {"s2", 2}});
  sentinel_answer refused;
  refused.what = sentinel_answer::kind::auth_refused;
  refused.error = "WRONGPASS invalid username-password pair";
  auto x = choose_master(ep, {unreachable("timeout"), refused});
  REQUIRE_FALSE(x);
  CHECK(is(x.error(), errc::auth_failed));
  CHECK(to_sentence(x.error()).find("WRONGPASS") != std::string::npos);
}

TEST_CASE("the highest config epoch names the master") {
  // Right after a failover, a Sentinel that has not heard of it still names
  // the old primary, with the old epoch.
  auto ep = sentinels({{"s1", 1}, {"s2", 2}, {"s3", 3}});
  auto old_primary = master("10.0.0.1", 6379);
  old_primary.epoch = 4;
  auto new_primary = master("10.0.0.2", 6379);
  new_primary.epoch = 5;
  auto x = choose_master(ep,
                         {old_primary, new_primary, old_primary});
  REQUIRE(x);
  CHECK(x->host == "10.0.0.2");
  auto y = choose_master(ep, {new_primary, old_primary});
  REQUIRE(y);
  CHECK(y->host == "10.0.0.2");
}

TEST_CASE("a Sentinel port with nothing behind it is unreachable") {
  auto ep = sentinels({{"127.0.0.1", free_port()}});
  auto x = ask_sentinel(ep, ep.sentinels[0], std::chrono::milliseconds(300));
  CHECK(x.what == sentinel_answer::kind::unreachable);
  CHECK_FALSE(x.error.empty());
}

TEST_CASE("a plain Redis asked as a Sentinel is refused, not trusted") {
  redis_process redis;
  auto ep = sentinels({{"127.0.0.1", redis.port()}});
  auto x = ask_sentinel(ep, ep.sentinels[0], std::chrono::milliseconds(500));
  CHECK(x.what == sentinel_answer::kind::unreachable);
  CHECK(x.error.find("unknown command") != std::string::npos);
  auto chosen = resolve_master(ep, std::chrono::milliseconds(500));
  REQUIRE_FALSE(chosen);
  CHECK(to_sentence(chosen.error()).find("no Sentinel reachable")
        != std::string::npos);
}

} // TEST_SUITE
