#pragma once

// The remote modes of the benchmark: a server process publishes a cache (or
// the bare actor), and this process drives it over CAF's network layer.

#include <optional>

#include <caf/actor_system.hpp>

#include "bench/bench_config.hpp"
#include "bench/workload.hpp"
#include "tests/harness/redis_process.hpp"

namespace cafcache {

/// The server half of the remote modes: publishes a filled cache (or the
/// bare actor) on a loopback port, prints "ready PORT" and serves until
/// stdin closes.
void serve(caf::actor_system& sys, const bench_config& cfg);

/// Drives a remote mode: the server in a second process, requests over
/// CAF's network layer from this one.
std::optional<run_result> remote_run(caf::actor_system& sys,
                                     const bench_config& cfg,
                                     const redis_process& redis);

} // namespace cafcache
