#pragma once

#include <chrono>
#include <cstdint>

namespace cafcache {

/// Rate limit for one kind of log line: at most `burst` lines a second, the
/// rest counted. The next line that passes reports how many were held
/// back, so an outage that fails 100,000 requests costs a few lines a second
/// and loses no count.
class log_throttle {
public:
  using clock = std::chrono::steady_clock;

  /// `burst == 0` lets every line through.
  explicit log_throttle(uint32_t burst = 0) : burst_(burst) {
    // nop
  }

  /// Returns whether a line may be written at `now`. When it may,
  /// `suppressed` is the number of lines held back since the last one that
  /// passed (0 if none).
  bool admit(clock::time_point now, uint64_t& suppressed);

private:
  uint32_t burst_;
  clock::time_point window_start_{};
  uint32_t passed_ = 0;
  uint64_t held_ = 0;
};

} // namespace cafcache
