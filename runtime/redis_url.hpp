#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cafcache {

/// Where and how to reach one Redis server.
struct redis_endpoint {
  /// Host name or IP address; IPv6 addresses without the brackets.
  std::string host;

  /// TCP port.
  uint16_t port = 6379;

  /// ACL user name; empty means the default user.
  std::string user;

  /// Password for AUTH; empty means no AUTH.
  std::string password;

  /// Database index for SELECT.
  uint32_t db = 0;
};

/// Parses redis://[user:password@]host[:port][/db], including
/// redis://:password@host, redis://user@host and bracketed IPv6 hosts such as
/// redis://[::1]:6380/2. User and password may be percent-encoded (%40 for
/// '@'); the last '@' ends the credentials, so an unencoded '@' or '/' in the
/// password still parses. Returns std::nullopt on malformed input and then,
/// unless why is null, sets *why to a sentence a person understands.
std::optional<redis_endpoint> parse_redis_url(std::string_view url,
                                              std::string* why);

/// Returns the endpoint as a redis:// URL with port and db spelled out and the
/// password replaced by "***", for logs and health output.
std::string redacted(const redis_endpoint& x);

} // namespace cafcache
