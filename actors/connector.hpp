#pragma once

#include <cstdint>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>

#include "messages/internal.hpp"
#include "runtime/config.hpp"
#include "runtime/redis_url.hpp"

namespace cafcache {

/// One connection attempt, run as a detached actor because CAF's
/// `spawn_client` blocks for the TCP connect: for a Sentinel-managed
/// endpoint it first asks the Sentinels for the master's address
/// (`resolve_master`), then hands the socket to a `redis_connection`, which
/// reports its handshake to `owner` (`hello_atom`). A failure before that is
/// reported as `(attempt_atom, slot, attempt, error)`.
void connector(caf::event_based_actor* self, caf::actor owner, uint32_t slot,
               uint64_t attempt, redis_endpoint endpoint, config cfg,
               cache_internal_actor cache);

} // namespace cafcache
