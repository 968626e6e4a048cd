#include "runtime/log_throttle.hpp"

namespace cafcache {

bool log_throttle::admit(clock::time_point now, uint64_t& suppressed) {
  suppressed = 0;
  if (burst_ == 0)
    return true;
  if (passed_ == 0 || now - window_start_ >= std::chrono::seconds(1)) {
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
