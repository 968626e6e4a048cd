#pragma once

#include <memory>
#include <optional>
#include <utility>

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "messages/errc.hpp"
#include "actors/module.hpp"

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

/// Sends `xs` to `to` as a request from a fresh actor; the answer lands in
/// the returned slot once the scheduler runs.
template <class T, class Handle, class... Ts>
std::shared_ptr<answer_slot<T>> ask(caf::actor_system& sys, const Handle& to,
                                    Ts... xs) {
  auto slot = std::make_shared<answer_slot<T>>();
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(to, caf::infinite, xs...)
      .then([=](T& x) { slot->value = std::move(x); },
            [=](caf::error& err) { slot->value = std::move(err); });
  });
  return slot;
}

/// Runs the scheduler and returns the answer in `slot`, which must be a
/// result, not an error.
template <class T>
T run(caf::scheduler::test_coordinator& sched,
      std::shared_ptr<answer_slot<T>> slot) {
  sched.run();
  REQUIRE(slot->value.has_value());
  REQUIRE_MESSAGE(*slot->value, to_sentence(slot->value->error()));
  return std::move(**slot->value);
}

} // namespace cafcache::test
