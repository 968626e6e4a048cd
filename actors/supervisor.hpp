#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/null_connection.hpp"
#include "messages/internal.hpp"
#include "runtime/backoff.hpp"
#include "runtime/config.hpp"
#include "runtime/log.hpp"
#include "runtime/log_throttle.hpp"

namespace cafcache {

/// State of the supervisor: keeps `pool_size` connection actors alive.
///
/// Each slot connects through a short-lived detached actor, because CAF's
/// `spawn_client` blocks for the TCP connect and a scheduler thread must never
/// wait on the network. A slot whose attempt does not report within
/// `connect-timeout` counts as failed; the connection actor gives its
/// handshake the same time and closes its socket when it is not answered.
/// Every failed attempt is logged (`connect_failed`, at most `log-burst`
/// lines a second). Connections are linked to the supervisor: when one dies
/// (Redis gone, protocol error) the slot is reported down to the cache and
/// the breaker and reconnected after an exponential backoff with jitter. A
/// late success of an abandoned attempt is stopped, which closes its socket.
class supervisor_state {
public:
  // -- constructors ---------------------------------------------------------

  explicit supervisor_state(caf::stateful_actor<supervisor_state>* self)
    : self_(self) {
    // Nothing to do.
  }

  /// Starts one connection attempt per slot.
  void init(const config& cfg, cache_internal_actor cache,
            breaker_actor breaker);

  // -- callbacks for the behavior -------------------------------------------

  /// A connection finished its handshake (`err` empty) or refused it;
  /// `identity` names the dataset it reached (see `redis_info`).
  void on_hello(uint32_t slot, uint64_t attempt, caf::actor conn,
                caf::error err, std::string identity);

  /// The TCP connect of an attempt failed.
  void on_connect_failed(uint32_t slot, uint64_t attempt, caf::error err);

  /// An attempt ran out of time.
  void on_attempt_timeout(uint32_t slot, uint64_t attempt);

  /// A linked actor terminated: a connection (slot goes down) or the owner.
  void on_exit(const caf::exit_msg& msg);

  /// Time to try slot again.
  void on_retry(uint32_t slot);

  /// The connection of `slot` lost its socket (it lingers until the cache
  /// releases it).
  void on_lost(uint32_t slot, uint64_t attempt, caf::error err);

  /// The Sentinels moved the master (`sentinel_watcher`): every connection
  /// is told, and those to another server close and reconnect; backoffs
  /// start over and idle slots connect at once.
  void on_failover(const std::string& host, uint16_t port);

  /// A connection found the server at `address` demoted (READONLY): every
  /// connection is told, and those to that server close and reconnect.
  /// Without it a standby of the pool on the same server would serve reads
  /// from the replica until a write of its own was refused.
  void on_demoted(const std::string& address);

  /// A closing connection's batch sizes: passed on to the cache.
  void on_batch_sizes(const bucket_histogram& counts);

  /// The name CAF shows for this actor.
  static inline const char* name = "cafcache.supervisor";

private:
  struct slot_state {
    caf::actor conn;
    uint64_t attempt = 0;
    bool connecting = false;
    /// Attempts failed since the last success.
    uint32_t failures = 0;
    std::optional<backoff> delays;
  };

  void connect(uint32_t slot);

  /// Connections of the pool (not the subscriber) that are up.
  size_t pool_up() const;

  /// True while `attempt` is the one slot waits for.
  bool pending(uint32_t slot, uint64_t attempt) const;

  /// The current attempt of slot failed: logs it, then `failed`.
  void attempt_failed(uint32_t slot, caf::error err);

  /// Reports slot down and schedules its next attempt; returns the delay.
  std::chrono::milliseconds failed(uint32_t slot, const caf::error& err);

  caf::stateful_actor<supervisor_state>* self_;
  config cfg_;
  redis_endpoint endpoint_;
  /// The endpoint as logs show it, without the password.
  std::string redis_redacted_;
  logger log_;
  /// Bounds the `connect_failed` lines of all slots together.
  log_throttle failed_lines_;
  cache_internal_actor cache_;
  breaker_actor breaker_;
  std::vector<slot_state> slots_;
  /// The null backend's data, shared by its connections.
  std::shared_ptr<null_store> null_store_;
};

/// Spawnable behavior of the supervisor.
caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self,
                         config cfg, cache_internal_actor cache,
                         breaker_actor breaker);

} // namespace cafcache
