#include "actors/connector.hpp"

#include <chrono>

#include <caf/io/middleman.hpp>
#include <fmt/format.h>

#include "actors/redis_connection.hpp"
#include "messages/errc.hpp"
#include "runtime/sentinel.hpp"

namespace cafcache {

void connector(caf::event_based_actor* self, caf::actor owner,
               uint32_t slot, uint64_t attempt, redis_endpoint endpoint,
               config cfg, cache_internal_actor cache) {
  if (endpoint.sentinel_managed()) {
    // Each attempt asks again, so a reconnect after a failover finds the new
    // primary; the connection then checks that it is one (ROLE).
    auto master = resolve_master(
      endpoint, std::chrono::duration_cast<std::chrono::milliseconds>(
                  cfg.sentinel_timeout));
    if (!master) {
      self->send(owner, attempt_atom::value, slot, attempt,
                 std::move(master.error()));
      return;
    }
    endpoint.host = master->host;
    endpoint.port = master->port;
  }
  auto& mm = self->system().middleman();
  auto conn = mm.spawn_client(redis_connection, endpoint.host, endpoint.port,
                              owner, slot, attempt, endpoint,
                              cfg.max_pending, cfg.connect_timeout,
                              cfg.probe_timeout, std::move(cache),
                              cfg.key_prefix, cfg.sweep_interval(),
                              cfg.mirror_refresh());
  if (!conn)
    self->send(owner, attempt_atom::value, slot, attempt,
               make_error(errc::redis_unavailable,
                          fmt::format("cannot connect to {}",
                                      address_of(endpoint))));
}

} // namespace cafcache
