// A cache other machines can use: spawn it, publish it, serve until Enter.
//
//   build/examples/server --cafcache.redis-url=redis://127.0.0.1:6379
//     --cafcache.port=4242   (one command line)
//
// cafcache-node is the same with TLS and signal handling.

#include <iostream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cafcache.hpp"

namespace {

struct server_config : cafcache::system_config {
  server_config() {
    load<caf::io::middleman>();
  }
};

void caf_main(caf::actor_system& sys, const server_config& cfg) {
  auto opts = cafcache::config::from(cfg);    // cafcache.* incl. port, bind
  auto cache = cafcache::spawn_cache(sys, opts);
  if (!cache) {
    std::cerr << cafcache::to_sentence(cache.error()) << '\n';
    return;
  }
  // Behind the peer guard: bounded message size and number of peers.
  auto published = cafcache::publish_cache(sys, *cache, opts);
  if (!published) {
    std::cerr << sys.render(published.error()) << '\n';
    cafcache::stop_cache(sys, *cache);
    return;
  }
  std::cout << "serving on " << opts.bind << ':' << published->port
            << ", press Enter to stop" << std::endl;
  std::cin.get();
  cafcache::unpublish_cache(sys, *cache, *published);
  cafcache::stop_cache(sys, *cache);          // answers pending requests
  cafcache::drain_peers(sys, *published);     // ... and gets them to peers
}

} // namespace

CAF_MAIN()
