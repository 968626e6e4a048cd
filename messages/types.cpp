#include "messages/types.hpp"

namespace cafcache {

const char* to_string(tier x) {
  switch (x) {
    case tier::none: return "none";
    case tier::redis: return "redis";
    case tier::fallback: return "fallback";
    case tier::loader: return "loader";
  }
  return "unknown";
}

} // namespace cafcache
