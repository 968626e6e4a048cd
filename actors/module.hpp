#pragma once

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "messages/interfaces.hpp"
#include "runtime/config.hpp"

namespace cafcache {

/// Spawns the whole module (cache, fallback, breaker, supervisor and its
/// connections) inside `sys` and waits up to `cfg.connect_timeout` for the
/// first connection attempt. Returns the cache handle, or `errc::bad_config`
/// for an invalid config and `errc::auth_failed` when Redis refuses the
/// credentials. An unreachable Redis is not an error: the cache then starts
/// on its fallback and switches to Redis once it answers.
caf::expected<cache_actor> spawn_cache(caf::actor_system& sys,
                                       const config& cfg);

/// Same, with the config read from `sys.config()` (`cafcache.*` keys).
caf::expected<cache_actor> spawn_cache(caf::actor_system& sys);

/// Stops a cache spawned by `spawn_cache`: new requests are refused, pending
/// ones are answered, then every actor of the module terminates. Blocks until
/// the cache actor is gone.
void stop_cache(caf::actor_system& sys, const cache_actor& cache);

} // namespace cafcache
