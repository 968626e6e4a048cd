// The Usage snippet of README.md: the lines between the two markers below
// are that snippet, and `make test` fails when the two differ
// (tests/readme_snippet.sh).
//
//   build/examples/readme_usage --cafcache.redis-url=redis://127.0.0.1:6379

// readme-snippet-begin
#include <cafcache.hpp>

#include <iostream>
#include <string>

struct user_t {
  std::string name;
  int age = 0;
  MSGPACK_DEFINE(name, age);
};

struct my_config : cafcache::system_config { // registers types and options
  my_config() {
    load<caf::io::middleman>();
  }
};

void caf_main(caf::actor_system& sys, const my_config&) {
  auto cache = cafcache::spawn_cache(sys); // reads cafcache.* options
  if (!cache) {
    std::cerr << cafcache::to_sentence(cache.error()) << '\n';
    return;
  }
  auto fail = [](caf::error& e) {
    std::cerr << cafcache::to_sentence(e) << '\n';
  };
  caf::scoped_actor self{sys};
  cafcache::set_options opts;
  opts.ttl = std::chrono::minutes(10); // SET ... PX 600000
  self->request(*cache, std::chrono::seconds(1), cafcache::put_atom::value,
                "user:42", cafcache::pack(user_t{"Ada", 36}), opts) // msgpack
    .receive([](cafcache::write_result&) {}, fail);
  self->request(*cache, std::chrono::seconds(1), cafcache::get_atom::value,
                "user:42", cafcache::request_options{})
    .receive(
      [](cafcache::get_result& r) {
        auto user = r.found ? cafcache::unpack<user_t>(r.value) : std::nullopt;
        std::cout << (user ? user->name : "<miss>") << " (from "
                  << cafcache::to_string(r.source) << ")\n";
      },
      fail);
  cafcache::stop_cache(sys, *cache); // answers pending requests
}

CAF_MAIN()
// readme-snippet-end
