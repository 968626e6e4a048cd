#pragma once

#include <string>

#include "bench/bench_config.hpp"

namespace cafcache {

/// Runs every scenario of the README in a fresh process of `self_exe`
/// (`cfg.repetitions` times each, medians; the scenarios against the bare
/// baseline alternate cafcache and bare runs), prints one line per scenario
/// and writes `cfg.out` plus the plot data next to it.
void run_suite(const bench_config& cfg, const std::string& self_exe);

} // namespace cafcache
