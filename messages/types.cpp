#include "messages/types.hpp"

namespace cafcache {

const char* to_string(breaker_state x) {
  switch (x) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half-open";
  }
  return "invalid";
}

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
