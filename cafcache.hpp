#pragma once

/// Everything a program needs to host or reach a cafcache cache actor.

// What every program using the cache needs from CAF as well: the middleman
// that system_config users load, scoped_actor for blocking requests, and
// CAF_MAIN. With these, this header alone compiles examples/readme_usage.cpp.
#include <caf/exec_main.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "messages/types.hpp"
#include "runtime/codec.hpp"
#include "runtime/config.hpp"
#include "runtime/health_json.hpp"
#include "actors/module.hpp"
#include "actors/publish.hpp"
