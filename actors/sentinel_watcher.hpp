#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "messages/internal.hpp"
#include "runtime/backoff.hpp"
#include "runtime/config.hpp"
#include "runtime/log.hpp"
#include "runtime/redis_url.hpp"

namespace cafcache {

/// Follows a Sentinel-managed master between connection attempts: holds one
/// connection to a Sentinel (the next one in the URL's list after a
/// failure, with the reconnect backoff), subscribed to `+switch-master`, and
/// checks it with a PING every `max(2 × sentinel-timeout, 1 s)`, and
/// sends `(failover_atom, host, port)` to `supervisor` when the Sentinels
/// move our master (messages for other master names are ignored). The
/// supervisor passes it on to every connection, and those to another
/// server close, so that their next attempt resolves the new primary. Without
/// it, a connection learns of a failover only from a READONLY reply or from
/// the Sentinels closing it when they demote the old primary (about 10 s
/// later on a loopback setup).
class sentinel_watcher_state {
public:
  explicit sentinel_watcher_state(caf::event_based_actor* self) : self_(self) {
    // nop
  }

  void init(const redis_endpoint& master, const config& cfg,
            caf::actor supervisor);

  void on_hello(uint64_t attempt, caf::actor conn, caf::error err);

  void on_attempt_failed(uint64_t attempt, caf::error err);

  void on_lost(uint64_t attempt);

  void on_down(const caf::down_msg& msg);

  void on_retry(uint64_t attempt);

  /// Timer: the watched Sentinel must answer a PING within
  /// `sentinel-timeout`, else the next one is watched.
  void on_ping(uint64_t attempt);

  void on_push(const std::string& channel, const std::string& payload);

  static inline const char* name = "cafcache.sentinel_watcher";

private:
  void connect();

  void schedule_ping();

  caf::timespan ping_interval() const;

  /// The current Sentinel failed: try the next one after a delay.
  void failed(const caf::error& err);

  caf::event_based_actor* self_;
  redis_endpoint master_;
  config cfg_;
  caf::actor supervisor_;
  caf::actor conn_;
  uint64_t attempt_ = 0;
  size_t next_ = 0;
  std::optional<backoff> delays_;
  logger log_;
};

/// The actor of `sentinel_watcher_state`; quits when `supervisor` does.
caf::behavior
sentinel_watcher(caf::stateful_actor<sentinel_watcher_state>* self,
                 redis_endpoint master, config cfg, caf::actor supervisor);

} // namespace cafcache
