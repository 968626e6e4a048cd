#pragma once

#include <caf/atom.hpp>

/// Atoms of the cache's public interface. CAF 0.17 already defines
/// `get_atom`, `put_atom` (set) and `delete_atom` (invalidate); the cache
/// interface uses those so that it reads like any other CAF key-value
/// interface. The atoms the module's own actors exchange are in
/// messages/internal.hpp.
namespace cafcache {

using caf::delete_atom;
using caf::get_atom;
using caf::put_atom;

/// Asks for the health report.
using health_atom = caf::atom_constant<caf::atom("health")>;

/// Asks for the counters.
using stats_atom = caf::atom_constant<caf::atom("stats")>;

/// Asks for every counter and histogram (`metrics_report`).
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;

/// get_or_load from the cache; load from a user's loader actor.
using load_atom = caf::atom_constant<caf::atom("load")>;

/// invalidate_tag: with `delete_atom`, removes every key carrying a tag.
using tag_atom = caf::atom_constant<caf::atom("tag")>;

} // namespace cafcache
