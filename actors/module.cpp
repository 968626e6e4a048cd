#include "actors/module.hpp"

#include <caf/scoped_actor.hpp>

#include "actors/front.hpp"
#include "messages/errc.hpp"

namespace cafcache {

caf::expected<cache_actor> spawn_cache(caf::actor_system& sys,
                                       const config& cfg) {
  if (auto err = cfg.validate())
    return err;
  auto endpoint = cfg.endpoint();
  auto internal = caf::actor_cast<caf::actor>(sys.spawn(front, cfg));
  // How long the first outcome may take: one connection attempt, or for a
  // cluster the slot-map fetch (two limits per seed at worst) and then the
  // node caches' first attempt.
  auto first_outcome = cfg.connect_timeout;
  if (endpoint.cluster() && cfg.backend_type() == backend_kind::redis)
    first_outcome = cfg.connect_timeout
                    * (2 * endpoint.cluster_seeds.size() + 1);
  caf::scoped_actor self{sys};
  caf::error failure;
  self->request(internal, first_outcome + std::chrono::milliseconds(100),
                ready_atom::value)
    .receive([](bool) {},
             [&](caf::error& err) {
               if (is(err, errc::auth_failed) || is(err, errc::bad_config))
                 failure = std::move(err);
             });
  if (failure) {
    stop_cache(sys, caf::actor_cast<cache_actor>(internal));
    return failure;
  }
  return caf::actor_cast<cache_actor>(internal);
}

caf::expected<cache_actor> spawn_cache(caf::actor_system& sys) {
  return spawn_cache(sys, config::from(sys.config()));
}

void stop_cache(caf::actor_system& sys, const cache_actor& cache) {
  if (!cache)
    return;
  caf::scoped_actor self{sys};
  self->monitor(cache);
  self->send_exit(cache, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {});
}

} // namespace cafcache
