#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace cafcache {

/// A plain `get` the cache delegated to a connection: the connection answers
/// the client itself and reports what it served in a batch of `served_get`s.
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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_job& x) {
  return f(caf::meta::type_name("cafcache.get_job"), x.key, x.correlation_id,
           x.ticket, x.start, x.redis_deadline, x.deadline, x.slot,
           x.attempts);
}

/// What Redis held for a delegated get, as its connection answered it.
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
};

/// One delegated get a connection answered from Redis; connections send them
/// to the cache in batches (one message per socket read at most).
struct served_get {
  std::string key;
  /// kind hit or negative: the envelope Redis returned.
  std::string stored;
  std::string correlation_id;
  uint64_t ticket = 0;
  served_kind kind = served_kind::nil;
  /// From the cache's receipt of the request to the client's answer.
  caf::timespan latency{0};
  /// From the command's write to its reply.
  caf::timespan redis_latency{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, served_get& x) {
  return f(caf::meta::type_name("cafcache.served_get"), x.key, x.stored,
           x.correlation_id, x.ticket, x.kind, x.latency, x.redis_latency);
}

using served_batch = std::vector<served_get>;

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
