#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "runtime/resp.hpp"

namespace cafcache {

/// State of the null connection: stands in for a Redis connection actor with
/// an in-process map, no socket and no Redis. With `cafcache.backend = "null"`
/// every request takes the same actor hops as with Redis, which makes it the
/// messaging ceiling that `cafcache-bench` compares against. It understands
/// GET, SET (ignoring expiry), UNLINK/DEL, PING and SCAN (one page); anything
/// else is an error reply.
class null_connection_state {
public:
  /// Answers one command like Redis would.
  resp_value on_command(const std::vector<std::string>& argv);

  /// The name CAF shows for this actor.
  static inline const char* name = "cafcache.null_connection";

private:
  std::unordered_map<std::string, std::string> data_;
};

/// Spawnable behavior of the null connection.
caf::behavior
null_connection(caf::stateful_actor<null_connection_state>* self);

} // namespace cafcache
