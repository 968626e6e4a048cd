// Remote use: a second actor system reaches the cache through CAF's
// middleman (publish / remote_actor over loopback) and gets the same answers.

#include <doctest/doctest.h>

#include "messages/internal.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

/// A cache on its own Redis, published on a loopback port, and a second
/// actor system that reaches it from there.
struct cache_and_peer {
  cache_and_peer() : host(host_cfg), peer(peer_cfg) {
    auto handle = spawn_cache(host, fast_config(redis.url()));
    REQUIRE_MESSAGE(handle, why(handle));
    cache = *handle;
    auto port = host.middleman().publish(cache, 0, "127.0.0.1");
    REQUIRE_MESSAGE(port, why(port));
    auto handle_there = peer.middleman().remote_actor<cache_actor>(
      "127.0.0.1", *port);
    REQUIRE_MESSAGE(handle_there, why(handle_there));
    remote = *handle_there;
  }

  ~cache_and_peer() {
    remote = nullptr;
    stop_cache(host, cache);
  }

  redis_process redis;
  node_config host_cfg;
  node_config peer_cfg;
  caf::actor_system host;
  caf::actor_system peer;
  cache_actor cache;
  cache_actor remote;
};

} // namespace

TEST_CASE("a remote node gets the same answers as a local one") {
  cache_and_peer c;
  {
    client local_api{c.host, c.cache};
    client remote_api{c.peer, c.remote};
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
}

TEST_CASE("a peer cannot send the cache the signals of its own actors") {
  // The cache's interface also carries what its breaker, supervisor,
  // connections and timers tell it; a peer that reaches the published cache
  // can name those messages too (a route cannot cross the network: its type
  // is not announced), and they must change nothing.
  cache_and_peer c;
  client local_api{c.host, c.cache};
  REQUIRE(local_api.set("k", "v"));
  {
    auto internal = caf::actor_cast<cache_internal_actor>(c.remote);
    caf::scoped_actor self{c.peer};
    self->send(internal, conn_atom::value, uint32_t{0}, caf::actor{},
               make_error(errc::redis_unavailable, "forged"), std::string{});
    self->send(internal, sweep_atom::value, uint16_t{9});
    self->send(internal, quit_atom::value, uint16_t{0});
    // A request behind them from the same peer: they were all handled.
    client remote_api{c.peer, c.remote};
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
}
