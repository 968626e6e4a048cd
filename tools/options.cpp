// Prints the option table of README.md, generated from cafcache::config.

#include <iostream>

#include "runtime/config.hpp"

int main() {
  std::cout << cafcache::options_markdown();
}
