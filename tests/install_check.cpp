// Built by `make install-check` against the installed library, outside the
// tree: proves that headers, library and cafcache.pc are complete.

#include <cafcache.hpp>

#include <iostream>

int main() {
  cafcache::config cfg;
  if (auto err = cfg.validate()) {
    std::cerr << cafcache::to_sentence(err) << '\n';
    return 1;
  }
  auto value = cafcache::pack(std::string{"hello"});
  auto back = cafcache::unpack<std::string>(value);
  if (!back || *back != "hello")
    return 1;
  std::cout << "install check: cafcache headers, library and pkg-config ok\n";
  return 0;
}
