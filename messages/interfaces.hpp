#pragma once

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/types.hpp"
#include "messages/metrics_report.hpp"

namespace cafcache {

/// A user's source of truth for get_or_load: answers `(load_atom, key)` with
/// found + value, or with an error (reaches every waiter, never cached).
using loader_actor = caf::typed_actor<
  caf::replies_to<load_atom, std::string>::with<load_result>>;

/// The cache as users see it, locally or from another node.
///
/// - `get(key, options)` -> found, value, tier, stale
/// - `set(key, value, options)` (put_atom) -> where the write went
/// - `invalidate(key, options)` (delete_atom) -> where the delete went
/// - `invalidate_tag(tag, options)` (delete_atom, tag_atom) -> where the
///   delete went; removes every key whose value was set with that tag
/// - `mget(keys, options)` / `mset(entries, options)`: the same per key, sent
///   together (pipelined), answered with one result per key in order
/// - `get_or_load(key, loader, options)` (load_atom) -> like get; on a miss
///   the loader is asked once for all concurrent callers and its value stored
/// - `health` -> health_report, `stats` -> stats_report, `metrics` ->
///   metrics_report (every counter and histogram, for Prometheus)
///
/// Every request is answered before its deadline; failures arrive as
/// `cafcache::errc` errors (see messages/errc.hpp).
using cache_actor = caf::typed_actor<
  caf::replies_to<get_atom, std::string, request_options>::with<get_result>,
  caf::replies_to<put_atom, std::string, cache_value, set_options>::with<
    write_result>,
  caf::replies_to<delete_atom, std::string, request_options>::with<
    write_result>,
  caf::replies_to<delete_atom, tag_atom, std::string, request_options>::with<
    write_result>,
  caf::replies_to<get_atom, std::vector<std::string>, request_options>::with<
    std::vector<get_result>>,
  caf::replies_to<put_atom, std::vector<key_value>, set_options>::with<
    std::vector<write_result>>,
  caf::replies_to<load_atom, std::string, loader_actor, set_options>::with<
    get_result>,
  caf::replies_to<health_atom>::with<health_report>,
  caf::replies_to<stats_atom>::with<stats_report>,
  caf::replies_to<metrics_atom>::with<metrics_report>>;

} // namespace cafcache
