#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "runtime/cluster_slots.hpp"
#include "runtime/redis_url.hpp"

namespace cafcache {

/// Asks the nodes `hosts` of a Redis Cluster in turn for `CLUSTER SLOTS`,
/// each over a connection of its own with `timeout` for connecting and for
/// each answer (`AUTH [user] password` first when `password` is not empty),
/// and returns the first map that covers all 16384 slots. A map that covers
/// only some is returned only when no host gives a complete one (the one
/// that covers most); one that covers none counts as no answer. Blocks the
/// calling thread for up to two timeouts per host.
///
/// Fails, when no host gave a map, with `errc::auth_failed` when a host
/// refused the credentials or wanted some; else `errc::bad_config` when a
/// host is not in cluster mode; else `errc::redis_error` when a host
/// answered with an error or with a reply that is no slot map; else
/// `errc::redis_unavailable` ("no Redis Cluster node reachable (tried ...)")
/// naming every host tried with why it failed; `errc::bad_config` for an
/// empty `hosts`.
caf::expected<slot_map> fetch_slot_map(const std::vector<host_port>& hosts,
                                       const std::string& user,
                                       const std::string& password,
                                       std::chrono::milliseconds timeout);

} // namespace cafcache
