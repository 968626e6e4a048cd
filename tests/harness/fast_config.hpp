#pragma once

#include <chrono>
#include <string>

#include "runtime/config.hpp"

namespace cafcache {

/// Settings that let fault runs (tests, cafcache-chaos) recover in seconds,
/// not minutes: short request timeout, breaker periods and reconnects.
inline config fast_config(const std::string& url) {
  using namespace std::chrono_literals;
  config cfg;
  cfg.redis_url = url;
  cfg.key_prefix = "test:";
  cfg.request_timeout = 300ms;
  cfg.fallback_reserve = 30ms;
  cfg.breaker_reset_timeout = 300ms;
  cfg.breaker_max_reset_timeout = 1s;
  cfg.probe_timeout = 300ms;
  cfg.max_half_open = 1s;
  cfg.reconnect_min = 50ms;
  cfg.reconnect_max = 300ms;
  cfg.connect_timeout = 500ms;
  return cfg;
}

} // namespace cafcache
