#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "messages/interfaces.hpp"

namespace cafcache {

/// Host and port of a cafcache-node.
struct node_address {
  std::string host;
  uint16_t port = 0;
};

/// Parses "HOST:PORT" or "[IPv6]:PORT" (the port between 1 and 65535).
/// Returns nothing and a reason in `why` on failure.
std::optional<node_address> parse_node_address(const std::string& text,
                                               std::string* why);

/// Reaches the cache a cafcache-node publishes at `addr`, over TLS when `tls`
/// (needs CAF's OpenSSL module loaded in `sys`). Unlike `remote_actor`, the
/// connect and handshake are bounded by `timeout`. Returns CAF's error for a
/// refused or failed connection (a closed port fails at once),
/// `sec::request_timeout` when no handshake finished in time, and
/// `sec::unexpected_actor_messaging_interface` when the actor published
/// there is not a cache.
caf::expected<cache_actor> connect_cache(caf::actor_system& sys,
                                         const node_address& addr, bool tls,
                                         caf::timespan timeout);

} // namespace cafcache
