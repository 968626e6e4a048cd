// Remote use: a second actor system reaches the cache through CAF's
// middleman (publish / remote_actor over loopback) and gets the same answers.

#include <doctest/doctest.h>

#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;

TEST_CASE("a remote node gets the same answers as a local one") {
  redis_process redis;
  node_config host_cfg;
  caf::actor_system host{host_cfg};
  auto cache = spawn_cache(host, fast_config(redis.url()));
  REQUIRE(cache);
  auto port = host.middleman().publish(*cache, 0, "127.0.0.1");
  REQUIRE(port);
  {
    node_config peer_cfg;
    caf::actor_system peer{peer_cfg};
    auto remote = peer.middleman().remote_actor<cache_actor>("127.0.0.1",
                                                             *port);
    REQUIRE_MESSAGE(remote, why(remote));
    client local_api{host, *cache};
    client remote_api{peer, *remote};
    REQUIRE(remote_api.set("shared", "from-remote")->target == tier::redis);
    CHECK(text(local_api.get("shared")) == "from-remote");
    REQUIRE(local_api.set("other", "from-local"));
    auto r = remote_api.get("other");
    REQUIRE(r);
    CHECK(r->found);
    CHECK(r->value.data == "from-local");
    CHECK(r->source == tier::redis);
    // Errors cross the network as the same typed errors.
    CHECK(is(remote_api.get("").error(), errc::invalid_key));
    CHECK(remote_api.health().healthy);
    CHECK(remote_api.stats().sets == 2);
    CHECK(text(remote_api.get("absent")) == "<miss>");
  }
  stop_cache(host, *cache);
}
