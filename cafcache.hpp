#pragma once

/// Everything a program needs to host or reach a cafcache cache actor.

#include "messages/atoms.hpp"
#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "messages/types.hpp"
#include "runtime/codec.hpp"
#include "runtime/config.hpp"
#include "runtime/health_json.hpp"
#include "runtime/module.hpp"
#include "runtime/publish.hpp"
