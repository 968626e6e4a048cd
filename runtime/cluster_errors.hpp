#pragma once

#include <cstdint>
#include <string_view>

namespace cafcache {

/// True for the error replies of a Redis Cluster node that mean "this
/// request belongs elsewhere or later", not "Redis failed": `MOVED` (the
/// slot lives on another node), `ASK` (it is being migrated), `TRYAGAIN`
/// (a migration is under way) and `CLUSTERDOWN` (no quorum, or the slot has
/// no owner). `text` is the reply without its leading '-'. Such a request
/// is answered like one Redis could not serve (the fallback, stale), but it
/// is not counted against the breaker, and the slot map is fetched again.
bool slot_elsewhere(std::string_view text) noexcept;

/// True for `TRYAGAIN` and `CLUSTERDOWN`: the same node may take the same
/// command a little later (a migration ends, a failover elects a primary).
bool try_later(std::string_view text) noexcept;

/// Redirects (MOVED, ASK) one request follows before it is answered like
/// one Redis could not serve, as Lettuce and hiredis-cluster allow.
constexpr uint8_t max_redirects = 5;

} // namespace cafcache
