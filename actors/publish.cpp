#include "actors/publish.hpp"

#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "actors/peer_guard.hpp"

namespace cafcache {

caf::expected<published_cache> publish_cache(caf::actor_system& sys,
                                             const cache_actor& cache,
                                             const config& cfg) {
  auto& mm = sys.middleman();
  auto internal = mm.publish(cache, 0, "127.0.0.1", true);
  if (!internal)
    return internal.error();
  peer_guard_settings settings;
  settings.bind = cfg.bind;
  settings.port = cfg.port;
  settings.upstream_port = *internal;
  settings.max_message_bytes = cfg.max_message_bytes;
  settings.max_peers = cfg.max_peers;
  settings.drain_timeout = cfg.drain_timeout;
  settings.log_level = cfg.log_level;
  settings.serves = caf::actor_cast<caf::actor>(cache);
  auto guard = spawn_peer_guard(sys, std::move(settings));
  if (!guard) {
    mm.unpublish(cache, *internal);
    return guard.error();
  }
  return published_cache{guard->port, *internal, guard->handle,
                         cfg.drain_timeout};
}

void unpublish_cache(caf::actor_system& sys, const cache_actor& cache,
                     const published_cache& published) {
  stop_listening(sys, published.guard);
  sys.middleman().unpublish(cache, published.internal_port);
}

void drain_peers(caf::actor_system& sys, const published_cache& published) {
  // The cache's answers wait in the BASP broker's mailbox as messages to the
  // peers' proxies; an exit message queued behind them makes the broker send
  // them first. Terminating, it closes its connections the way CAF's close
  // does: after writing what they buffer. The guard sees each close after
  // the last byte before it.
  auto basp = sys.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  caf::anon_send_exit(basp, caf::exit_reason::user_shutdown);
  await_drained(sys, published.guard,
                published.drain_timeout + std::chrono::seconds(1));
}

} // namespace cafcache
