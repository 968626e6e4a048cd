#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/job_relay.hpp"
#include "runtime/resp.hpp"

namespace cafcache {

/// The data of the null backend: one in-process store that every null
/// connection of a cache shares, as the connections to one Redis share its
/// data. Thread-safe.
class null_store {
public:
  using time_point = caf::actor_clock::time_point;

  /// Answers one command like Redis would, with `now` as the time for
  /// expiries. Understands GET, SET (with PX), UNLINK/DEL, PING, SCAN (one
  /// page), PTTL and EVAL of the module's two tag scripts; anything else is an
  /// error reply.
  resp_value on_command(const std::vector<std::string>& argv, time_point now);

private:
  struct entry {
    std::string value;
    time_point expires;
  };

  /// The live entry for `key`, erasing it when it expired.
  entry* find(const std::string& key, time_point now);

  resp_value set_tagged(const std::vector<std::string>& argv, time_point now);

  resp_value invalidate_tag(const std::string& tag_key,
                            const std::string& prefix);

  std::mutex mtx_;
  std::unordered_map<std::string, entry> data_;
  std::unordered_map<std::string, std::unordered_set<std::string>> tags_;
};

/// State of the null connection: stands in for a Redis connection actor with
/// a `null_store`, no socket and no Redis. With `cafcache.backend = "null"`
/// every request takes the same actor hops as with Redis, which makes it the
/// messaging ceiling that `cafcache-bench` compares against, and it runs in
/// CAF's deterministic test scheduler (expiries follow the actor clock).
struct null_connection_state {
  std::shared_ptr<null_store> store;
  /// Answers delegated requests and reports them to the cache.
  job_relay relay;
  std::string key_prefix;

  /// Answers the get of `job` for `rp` from the store.
  void get(job_relay::promise_type& rp, get_job& job,
           caf::actor_clock::time_point now) {
    auto reply = store->on_command({"GET", key_prefix + job.key}, now);
    relay.complete(rp, job, reply, now);
  }

  /// The name CAF shows for this actor.
  static inline const char* name = "cafcache.null_connection";
};

/// Spawnable behavior of the null connection.
caf::behavior
null_connection(caf::stateful_actor<null_connection_state>* self,
                std::shared_ptr<null_store> store, cache_internal_actor cache,
                std::string key_prefix, caf::timespan mirror_refresh);

} // namespace cafcache
