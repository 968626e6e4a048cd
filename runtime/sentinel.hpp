#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "runtime/redis_url.hpp"

namespace cafcache {

/// What one Sentinel said when asked for the master's address.
struct sentinel_answer {
  enum class kind {
    /// It named the master: `address`.
    master,
    /// It does not monitor a master of that name (a null reply).
    unknown_name,
    /// It could not be reached, or did not answer in time, or refused.
    unreachable,
  };
  kind what = kind::unreachable;
  host_port address;
  /// Why it was unreachable or refused, for the log and health.
  std::string error;
};

/// The rule for a resolution over the Sentinels' answers, in the order they
/// were asked: the first that names the master wins. Otherwise the error
/// tells the two cases apart, "no Sentinel reachable" and "master name
/// unknown" (when at least one Sentinel answered and none knew the name),
/// and names every Sentinel asked. `errc::redis_unavailable` either way.
caf::expected<host_port>
choose_master(const redis_endpoint& ep,
              const std::vector<sentinel_answer>& answers);

/// Asks one Sentinel `SENTINEL get-master-addr-by-name` for `ep`'s master,
/// with `timeout` for connecting and for each answer (AUTH first when
/// `ep.sentinel_password` is set). Blocks the calling thread: the
/// supervisor's connector runs it on a thread of its own.
sentinel_answer ask_sentinel(const redis_endpoint& ep, const host_port& at,
                             std::chrono::milliseconds timeout);

/// Asks the Sentinels of `ep` in turn until one names the master
/// (`ask_sentinel`, then `choose_master`).
caf::expected<host_port> resolve_master(const redis_endpoint& ep,
                                        std::chrono::milliseconds timeout);

} // namespace cafcache
