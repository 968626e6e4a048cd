#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "messages/interfaces.hpp"
#include "runtime/config.hpp"
#include "runtime/latency_histogram.hpp"

namespace cafcache {

/// State of the cache actor, the only actor users talk to.
///
/// Routing: Redis is used only while the breaker is closed, a connection is
/// up and no dirty key waits for replay; otherwise the fallback answers. Every
/// request gets a deadline; Redis gets the deadline minus
/// `fallback-reserve`, so that the fallback can still answer in time when
/// Redis fails (stale-if-error).
///
/// Coherence: a key always travels over the same connection and the fallback
/// is updated only when Redis has answered, so the fallback sees writes in the
/// order Redis applied them. A write that may or may not have reached Redis
/// (timeout) is answered with an error, removed from the fallback and logged
/// as dirty. Whenever the cache stops using Redis, it replays the dirty log
/// (deletes those keys in Redis) before it uses Redis again, so an old value
/// in Redis is never read after an acknowledged write or invalidate.
class cache_state {
public:
  // -- member types ---------------------------------------------------------

  using self_pointer = cache_internal_actor::stateful_pointer<cache_state>;

  using time_point = caf::actor_clock::time_point;

  // -- constructors ---------------------------------------------------------

  explicit cache_state(self_pointer self) : self_(self) {
    // Nothing to do.
  }

  /// Spawns fallback, breaker and supervisor (linked to this actor).
  void init(config cfg);

  // -- callbacks for the behavior -------------------------------------------

  /// Handles `get`.
  caf::result<get_result> get(std::string& key, const request_options& opts);

  /// Handles `set`.
  caf::result<write_result> set(std::string& key, cache_value& value,
                                const set_options& opts);

  /// Handles `invalidate`.
  caf::result<write_result> invalidate(std::string& key,
                                       const request_options& opts);

  /// Handles `health`.
  caf::result<health_report> health();

  /// Handles `stats`.
  caf::result<stats_report> stats();

  /// Handles `ready`.
  caf::result<bool> ready();

  /// The breaker pushed a new route.
  void on_route(breaker_state state);

  /// The supervisor reports a connection slot up or down.
  void on_connection(uint32_t slot, caf::actor conn, caf::error err);

  /// Timer: retries a failed replay, or ends a shutdown that waited too long.
  void on_tick();

  /// Shutdown: refuse new requests, answer pending ones, then quit.
  void on_exit(const caf::exit_msg& msg);

  /// The name CAF shows for this actor.
  static inline const char* name = "cafcache.cache";

private:
  // -- request plumbing ------------------------------------------------------

  /// Bookkeeping shared by all requests of one kind.
  struct request_info {
    time_point start;
    time_point deadline;
  };

  request_info begin(caf::timespan requested);

  template <class T>
  void finish(caf::typed_response_promise<T>& rp, const request_info& info,
              T value);

  template <class T>
  void fail(caf::typed_response_promise<T>& rp, const request_info& info,
            caf::error err);

  /// Checks the key and the credentials; counts and returns the error that
  /// refuses the request, if any.
  caf::error admit(const std::string& key);

  caf::error check_key(const std::string& key);

  /// Time left for Redis, keeping the fallback reserve.
  caf::timespan redis_budget(const request_info& info) const;

  /// False when the deadline leaves Redis too little time to be useful.
  bool worth_asking_redis(const request_info& info) const;

  /// Time left until the deadline (may be zero or negative).
  caf::timespan remaining(const request_info& info) const;

  /// The connection for `key`, or an invalid handle when Redis is not routed.
  caf::actor route_for(const std::string& key) const;

  /// True while requests may go to Redis at all.
  bool redis_routed() const;

  /// The error to give when Redis is unusable and the fallback cannot stand in
  /// (for writes while credentials are rejected).
  bool auth_broken() const;

  std::string redis_key(const std::string& key) const;

  // -- tiers -----------------------------------------------------------------

  void redis_get(caf::typed_response_promise<get_result> rp,
                 request_info info, std::string key, caf::actor conn,
                 bool mirror);

  void fallback_get(caf::typed_response_promise<get_result> rp,
                    request_info info, std::string key, bool redis_failed);

  void on_redis_failure(const caf::error& err);

  void on_redis_success();

  void degrade_write(std::string key, std::string stored, caf::timespan ttl);

  // -- recovery --------------------------------------------------------------

  /// Starts a replay when one is needed and allowed.
  void maybe_recover();

  void replay_step(bool probe, caf::actor conn);

  void replay_keys(bool probe, caf::actor conn, dirty_batch batch);

  void flush_namespace(bool probe, caf::actor conn, std::string cursor,
                       dirty_batch batch);

  void replay_done(bool probe, bool ok, const dirty_batch* unreplayed);

  caf::actor any_connection() const;

  bool all_slots_reported() const;

  // -- member variables ------------------------------------------------------

  self_pointer self_;
  config cfg_;
  std::string redis_redacted_;
  fallback_actor fallback_;
  breaker_actor breaker_;
  caf::actor supervisor_;
  std::vector<caf::actor> conns_;
  std::vector<bool> ever_connected_;
  caf::error conn_error_;
  bool first_outcome_ = false;
  std::vector<caf::typed_response_promise<bool>> ready_waiters_;

  breaker_state route_ = breaker_state::closed;
  bool needs_replay_ = false;
  bool replaying_ = false;
  bool probe_pending_ = false;
  uint64_t dirty_since_drain_ = 0;
  uint64_t unreported_failures_ = 0;

  uint64_t outstanding_ = 0;
  bool stopping_ = false;
  caf::error stop_reason_;

  stats_report stats_;
  latency_histogram latency_;
};

/// Spawnable behavior of the cache actor.
cache_internal_actor::behavior_type
cache(cache_internal_actor::stateful_pointer<cache_state> self, config cfg);

} // namespace cafcache
