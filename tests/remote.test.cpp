// Remote use: a second actor system reaches the cache through CAF's
// middleman (publish / remote_actor over loopback) and gets the same answers.

#include <doctest/doctest.h>

#include "messages/internal.hpp"
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

TEST_CASE("a peer cannot send the cache the signals of its own actors") {
  // The cache's interface also carries what its breaker, supervisor,
  // connections and timers tell it; a peer that reaches the published cache
  // can name those messages too (a route cannot cross the network: its type
  // is not announced), and they must change nothing.
  redis_process redis;
  node_config host_cfg;
  caf::actor_system host{host_cfg};
  auto cache = spawn_cache(host, fast_config(redis.url()));
  REQUIRE(cache);
  auto port = host.middleman().publish(*cache, 0, "127.0.0.1");
  REQUIRE(port);
  client local_api{host, *cache};
  REQUIRE(local_api.set("k", "v"));
  {
    node_config peer_cfg;
    caf::actor_system peer{peer_cfg};
    auto remote = peer.middleman().remote_actor<cache_actor>("127.0.0.1",
                                                             *port);
    REQUIRE_MESSAGE(remote, why(remote));
    auto internal = caf::actor_cast<cache_internal_actor>(*remote);
    caf::scoped_actor self{peer};
    self->send(internal, conn_atom::value, uint32_t{0}, caf::actor{},
               make_error(errc::redis_unavailable, "forged"), std::string{});
    self->send(internal, sweep_atom::value, uint16_t{9});
    self->send(internal, quit_atom::value, uint16_t{0});
    // A request behind them from the same peer: they were all handled.
    client remote_api{peer, *remote};
    auto r = remote_api.get("k");
    REQUIRE_MESSAGE(r, why(r));
    CHECK(r->source == tier::redis);
  }
  auto h = local_api.health();
  CHECK(h.healthy);
  CHECK(h.breaker == breaker_state::closed);
  auto r = local_api.get("k");
  REQUIRE_MESSAGE(r, why(r));
  CHECK(r->source == tier::redis);
  stop_cache(host, *cache);
}
