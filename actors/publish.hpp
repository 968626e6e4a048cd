#pragma once

#include <cstdint>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "messages/interfaces.hpp"
#include "runtime/config.hpp"

namespace cafcache {

/// A cache that other CAF nodes can reach, as `publish_cache` set it up.
struct published_cache {
  /// The port peers connect to (`cfg.port`, or the one picked for 0).
  uint16_t port = 0;
  /// The loopback port of the middleman's own publication.
  uint16_t internal_port = 0;
  /// The broker between the two (actors/peer_guard).
  caf::actor guard;
  /// `cfg.drain_timeout`, for drain_peers.
  caf::timespan drain_timeout{0};
};

/// Publishes `cache` with the middleman on a free loopback port and puts the
/// peer guard in front of it on `cfg.bind:cfg.port`: a peer that announces a
/// message over `cfg.max_message_bytes` (64 KiB for its handshake), that
/// stops reading, or that would exceed `cfg.max_peers` connections is
/// disconnected. Needs the middleman loaded. Without TLS only; with CAF's
/// OpenSSL module, peers are bounded by mutual authentication instead.
caf::expected<published_cache> publish_cache(caf::actor_system& sys,
                                             const cache_actor& cache,
                                             const config& cfg);

/// Closes both ports of `publish_cache`. Peers already connected stay
/// connected, so that answers to requests in flight still reach them; call
/// `drain_peers` after `stop_cache`.
void unpublish_cache(caf::actor_system& sys, const cache_actor& cache,
                     const published_cache& published);

/// Call after `stop_cache`, before the actor system goes: the middleman
/// writes what it still has for the peers (the cache's last answers) and
/// closes its connections; this returns once the peer guard has passed every
/// byte of that to its peer's socket and each peer closed its connection. A
/// peer still short of its bytes `cafcache.drain-timeout` (2 s) after the
/// cache terminated is disconnected without them. Ends
/// every remote connection of `sys`: the middleman's BASP broker
/// terminates. Without this call, the actor system's destructor waits for
/// the guard's drain timeout instead.
void drain_peers(caf::actor_system& sys, const published_cache& published);

} // namespace cafcache
