// Cache-aside in front of a slow database actor.
//
//   build/examples/cache_aside --cafcache.redis-url=redis://127.0.0.1:6379
//
// Ask the cache first; on a miss, ask the database and store the answer.

#include <iostream>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cafcache.hpp"

using namespace std::chrono_literals;

namespace {

/// The system of record: slow, and the reason we cache.
using database_actor = caf::typed_actor<
  caf::replies_to<cafcache::get_atom, std::string>::with<std::string>>;

database_actor::behavior_type database(database_actor::pointer) {
  return {
    [](cafcache::get_atom, const std::string& id) {
      std::this_thread::sleep_for(50ms);
      return "{\"id\":\"" + id + "\",\"name\":\"user " + id + "\"}";
    },
  };
}

/// Looks up one user: cache first, database on a miss.
void lookup(caf::event_based_actor* self, cafcache::cache_actor cache,
            database_actor db, std::string id) {
  self->request(cache, 1s, cafcache::get_atom::value, "user:" + id,
                cafcache::request_options{})
    .then(
      [=](cafcache::get_result& hit) {
        if (hit.found) {
          std::cout << id << ": " << hit.value.data << " (from "
                    << cafcache::to_string(hit.source) << ")\n";
          return;
        }
        self->request(db, 1s, cafcache::get_atom::value, id)
          .then([=](std::string& row) {
            std::cout << id << ": " << row << " (from the database)\n";
            cafcache::set_options ttl;
            ttl.ttl = 10min;
            self->send(cache, cafcache::put_atom::value, "user:" + id,
                       cafcache::cache_value{cafcache::codec_kind::json, row},
                       ttl);
          });
      },
      [=](caf::error& err) {
        std::cout << id << ": " << cafcache::to_sentence(err) << "\n";
      });
}

struct example_config : cafcache::system_config {
  example_config() {
    load<caf::io::middleman>();
  }
};

void caf_main(caf::actor_system& sys, const example_config&) {
  auto cache = cafcache::spawn_cache(sys);
  if (!cache) {
    std::cerr << cafcache::to_sentence(cache.error()) << "\n";
    return;
  }
  auto db = sys.spawn<caf::detached>(database);
  for (int round = 0; round < 2; ++round) {
    {
      caf::scoped_actor waiter{sys};
      for (auto id : {"1", "2", "3"})
        waiter->monitor(sys.spawn(lookup, *cache, db, std::string{id}));
      for (int i = 0; i < 3; ++i)
        waiter->receive([](const caf::down_msg&) {});
    }
    std::this_thread::sleep_for(50ms);
  }
  caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
  cafcache::stop_cache(sys, *cache);
}

} // namespace

CAF_MAIN()
