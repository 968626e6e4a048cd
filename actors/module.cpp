#include "actors/module.hpp"

#include <caf/scoped_actor.hpp>

#include "actors/cache.hpp"
#include "messages/errc.hpp"

namespace cafcache {

caf::expected<cache_actor> spawn_cache(caf::actor_system& sys,
                                       const config& cfg) {
  if (auto err = cfg.validate())
    return err;
  auto internal = sys.spawn(cache, cfg);
  caf::scoped_actor self{sys};
  caf::error failure;
  self->request(internal, cfg.connect_timeout + std::chrono::milliseconds(100),
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
