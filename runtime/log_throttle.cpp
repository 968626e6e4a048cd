#include "runtime/log_throttle.hpp"

namespace cafcache {

log_throttle::log_throttle(uint32_t burst, clock::duration window)
  : burst_(burst), window_(window) {
  // nop
}

bool log_throttle::admit(clock::time_point now, uint64_t& suppressed) {
  suppressed = 0;
  if (burst_ == 0)
    return true;
  if (passed_ == 0 || now - window_start_ >= window_) {
    window_start_ = now;
    passed_ = 0;
  }
  if (passed_ >= burst_) {
    ++held_;
    return false;
  }
  ++passed_;
  suppressed = held_;
  held_ = 0;
  return true;
}

} // namespace cafcache
