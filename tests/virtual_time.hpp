#pragma once

#include <optional>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "runtime/module.hpp"

namespace cafcache::test {

/// An actor system in virtual time: CAF's test coordinator runs every actor
/// on the test thread, one message at a time, when the test says so.
struct virtual_time_config : caf::actor_system_config {
  virtual_time_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.verbosity", caf::atom("quiet"));
    add_module(*this, custom_options_);
  }
};

/// Receives one answer of the cache.
template <class T>
struct answer_slot {
  std::optional<caf::expected<T>> value;
};

} // namespace cafcache::test
