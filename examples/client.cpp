// Uses a cache on another machine: one set, one get.
//
//   build/examples/client --host=127.0.0.1 --port=4242

#include <iostream>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cafcache.hpp"

using namespace std::chrono_literals;

namespace {

struct client_config : cafcache::system_config {
  std::string host = "127.0.0.1";
  uint16_t port = 4242;

  client_config() {
    load<caf::io::middleman>();
    opt_group{custom_options_, "global"}
      .add(host, "host", "host of the cache node")
      .add(port, "port", "port of the cache node");
  }
};

void caf_main(caf::actor_system& sys, const client_config& cfg) {
  auto cache = sys.middleman().remote_actor<cafcache::cache_actor>(cfg.host,
                                                                   cfg.port);
  if (!cache) {
    std::cerr << "cannot reach the cache: " << sys.render(cache.error())
              << '\n';
    return;
  }
  caf::scoped_actor self{sys};
  auto fail = [&](caf::error& err) {
    std::cerr << cafcache::to_sentence(err) << '\n';
  };
  self->request(*cache, 2s, cafcache::put_atom::value, "greeting",
                cafcache::cache_value{cafcache::codec_kind::raw, "hello"},
                cafcache::set_options{})
    .receive([](cafcache::write_result&) {}, fail);
  self->request(*cache, 2s, cafcache::get_atom::value, "greeting",
                cafcache::request_options{})
    .receive(
      [](cafcache::get_result& r) {
        std::cout << (r.found ? r.value.data : "<miss>") << " (from "
                  << cafcache::to_string(r.source) << ")\n";
      },
      fail);
}

} // namespace

CAF_MAIN()
