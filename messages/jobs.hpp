#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/response_promise.hpp>
#include <caf/timespan.hpp>

namespace cafcache {

/// A plain `get` the cache delegated to a connection: the connection answers
/// the client itself and reports what it served in a batch of `served_request`s.
/// Times are the actor clock's time since its epoch.
struct get_job {
  /// The key as the client gave it (without the prefix).
  std::string key;
  /// The caller's correlation id, for the debug line of the request.
  std::string correlation_id;
  /// The mirror guard's ticket taken when the cache received the request.
  uint64_t ticket = 0;
  /// When the cache received the request.
  caf::timespan start{0};
  /// Redis must have answered by this, or the request goes to the fallback.
  caf::timespan redis_deadline{0};
  /// The answer must leave before this.
  caf::timespan deadline{0};
  /// The pool slot it went to last, and how many connections it went to.
  uint32_t slot = 0;
  uint32_t attempts = 0;
  /// For the fallback: Redis failed this request (a miss is marked stale).
  bool redis_failed = false;
  /// Redis Cluster: redirects (MOVED, ASK) followed so far, and whether the
  /// next node gets it behind `ASKING` (a slot being migrated).
  uint8_t redirects = 0;
  bool asking = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_job& x) {
  return f(caf::meta::type_name("cafcache.get_job"), x.key, x.correlation_id,
           x.ticket, x.start, x.redis_deadline, x.deadline, x.slot,
           x.attempts, x.redis_failed, x.redirects, x.asking);
}

/// A get in a batch the cache hands to a connection: the client's promise
/// travels with the job, and the connection answers it as if the request had
/// been delegated to it.
struct batched_get {
  caf::response_promise client;
  get_job job;
};

/// The gets for one connection that reached the cache in one round of its
/// mailbox: one message instead of one per get. Local only (a promise cannot
/// cross the network).
using get_batch = std::vector<batched_get>;

/// A plain `set` (untagged) or `invalidate` the cache delegated to the key's
/// connection: the connection answers the client itself once Redis applied
/// it and reports it in its batch; Redis' refusal, a lost connection or the
/// Redis deadline hand it back to the cache. Times as in `get_job`.
struct write_job {
  /// The key as the client gave it (without the prefix).
  std::string key;
  /// The envelope to store; empty: the key is deleted (`invalidate`).
  std::string stored;
  /// Time to live of a set (with `ttl-jitter` applied).
  caf::timespan ttl{0};
  std::string correlation_id;
  uint64_t ticket = 0;
  caf::timespan start{0};
  caf::timespan redis_deadline{0};
  caf::timespan deadline{0};
  uint32_t slot = 0;
  uint32_t attempts = 0;
  /// Coherence: the node id the connection publishes the write under, right
  /// behind it in the same pipeline; 0: not published.
  uint64_t announce_as = 0;
  /// Redis Cluster: as in `get_job`.
  uint8_t redirects = 0;
  bool asking = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_job& x) {
  return f(caf::meta::type_name("cafcache.write_job"), x.key, x.stored, x.ttl,
           x.correlation_id, x.ticket, x.start, x.redis_deadline, x.deadline,
           x.slot, x.attempts, x.announce_as, x.redirects, x.asking);
}

/// What a connection did with a delegated request, as it reports it.
enum class served_kind : uint8_t {
  /// A value: the client got it; the envelope may be mirrored.
  hit,
  /// The negative-caching marker: a miss; the marker may be mirrored.
  negative,
  /// Nothing under the key: a miss; the fallback's copy is dropped.
  nil,
  /// A value cafcache cannot decode, or a key of another type: a miss
  /// counted as a decode error; the fallback's copy is dropped.
  undecodable,
  /// A delegated set Redis applied: the client has its acknowledgement.
  stored,
  /// A delegated invalidate Redis applied.
  deleted,
  /// A write handed back at its Redis deadline has left the pipeline (Redis
  /// answered it, or the connection is gone): nobody is answered, the key
  /// is no longer bound to this connection.
  released,
  /// A delegated get the fallback answered with a value (marked stale).
  fallback_hit,
  /// A delegated get the fallback answered with a miss.
  fallback_miss,
};

/// One delegated request a connection finished; connections send them to the
/// cache in batches, in the order Redis answered them.
struct served_request {
  std::string key;
  /// kind hit or negative: the envelope Redis returned; kind stored: the
  /// envelope written.
  std::string stored;
  /// kind stored: the time to live written.
  caf::timespan ttl{0};
  std::string correlation_id;
  uint64_t ticket = 0;
  served_kind kind = served_kind::nil;
  /// From the cache's receipt of the request to the client's answer.
  caf::timespan latency{0};
  /// From the command's write to its reply.
  caf::timespan redis_latency{0};
  /// Writes: the pool slot of the connection (the key is bound to it while
  /// the write is in flight).
  uint32_t slot = 0;
  /// kind hit or negative: the connection sent this very envelope for the
  /// fallback less than `mirror_refresh` ago (runtime/mirror_memo), so
  /// `stored` is empty and there is nothing to copy.
  bool unchanged = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, served_request& x) {
  return f(caf::meta::type_name("cafcache.served_request"), x.key, x.stored,
           x.ttl, x.correlation_id, x.ticket, x.kind, x.latency,
           x.redis_latency, x.slot, x.unchanged);
}

using served_batch = std::vector<served_request>;

/// Cache -> fallback: what Redis was read to hold under a key, in batches.
struct mirror_entry {
  std::string key;
  /// The envelope to keep; empty: erase the key.
  std::string stored;
  caf::timespan ttl{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mirror_entry& x) {
  return f(caf::meta::type_name("cafcache.mirror_entry"), x.key, x.stored,
           x.ttl);
}

} // namespace cafcache

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cafcache::get_batch)
