#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/types.hpp"

namespace cafcache {

/// The baseline of cafcache-bench: what a CAF user would write instead of
/// cafcache. A front actor delegates each GET and SET to an io broker that
/// owns one Redis connection, speaks RESP through hiredis and answers the
/// client itself. No deadline, no fallback, no breaker, no metrics. It takes
/// the cache's own get and set messages, so the same requesters drive both.
using bare_actor = caf::typed_actor<
  caf::replies_to<get_atom, std::string, request_options>::with<get_result>,
  caf::replies_to<put_atom, std::string, cache_value, set_options>::with<
    write_result>>;

/// Settings of the baseline.
struct bare_options {
  /// Address of the redis-server.
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  /// Prepended to every key.
  std::string key_prefix;
  /// The codec a GET answer names; bodies are stored without an envelope.
  codec_kind codec = codec_kind::raw;
  /// PX of a SET whose options carry no TTL.
  caf::timespan default_ttl = std::chrono::hours(1);
  /// Redis connections; a key always goes to the same one (hash of the key).
  uint32_t connections = 1;
};

/// Connects to Redis and returns the front actor. Returns the error of the
/// first connection that could not be opened. A Redis error reply reaches the
/// client as `caf::sec::runtime_error` with the reply's text; a lost
/// connection or a reply hiredis cannot parse fails the pending requests
/// with `caf::sec::socket_disconnected` and stops the front.
caf::expected<bare_actor> spawn_bare(caf::actor_system& sys,
                                     const bare_options& opts);

/// Stops the front actor and its connections.
void stop_bare(const bare_actor& front);

} // namespace cafcache
