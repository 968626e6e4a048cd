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
    /// It refused `cafcache.sentinel-user` / `cafcache.sentinel-password`.
    auth_refused,
    /// It could not be reached, or did not answer in time, or refused.
    unreachable,
  };
  kind what = kind::unreachable;
  host_port address;
  /// The Sentinel's `config-epoch` of the master: each failover raises it,
  /// so the highest one names the newest primary.
  uint64_t epoch = 0;
  /// Why it was unreachable or refused, for the log and health.
  std::string error;
};

/// The rule for a resolution over the Sentinels' answers (`answers[i]` is
/// the answer of `ep.sentinels[i]`): of those that name
/// the master, the one with the highest config epoch wins (the first of
/// them on a tie), so that a Sentinel that has not learnt of a failover yet
/// cannot send the cache back to the old primary, which still says it is a
/// master until the Sentinels demote it. Otherwise `errc::auth_failed` when a Sentinel
/// refused the credentials, else `errc::redis_unavailable` telling "master
/// name unknown" (at least one Sentinel answered, none knew the name) from
/// "no Sentinel reachable"; each names every Sentinel asked.
caf::expected<host_port>
choose_master(const redis_endpoint& ep,
              const std::vector<sentinel_answer>& answers);

/// Asks one Sentinel `SENTINEL MASTER` for `ep`'s master (address and
/// config epoch),
/// with `timeout` for connecting and for each answer (AUTH first when
/// `ep.sentinel_password` is set). Blocks the calling thread: the
/// supervisor's connector runs it on a thread of its own.
sentinel_answer ask_sentinel(const redis_endpoint& ep, const host_port& at,
                             std::chrono::milliseconds timeout);

/// Asks every Sentinel of `ep` (`ask_sentinel`) and applies
/// `choose_master`.
caf::expected<host_port> resolve_master(const redis_endpoint& ep,
                                        std::chrono::milliseconds timeout);

} // namespace cafcache
