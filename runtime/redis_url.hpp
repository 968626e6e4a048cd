#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cafcache {

/// A host name or IP address and a TCP port.
struct host_port {
  std::string host;
  uint16_t port = 0;
};

/// The port of a Sentinel when its URL names none.
constexpr uint16_t default_sentinel_port = 26379;

/// Where and how to reach one Redis server: given directly (redis://), or
/// the current primary of a Sentinel-managed master (redis-sentinel://),
/// whose address the connector asks the Sentinels for and then fills in.
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

  /// The Sentinels to ask for the master's address, in order; empty for a
  /// redis:// URL.
  std::vector<host_port> sentinels;

  /// The name the Sentinels monitor the master under.
  std::string master_name;

  /// Credentials for the Sentinels (`cafcache.sentinel-user`,
  /// `cafcache.sentinel-password`); empty password means no AUTH.
  std::string sentinel_user;
  std::string sentinel_password;

  /// The seed nodes of a Redis Cluster, in order; empty unless the URL is
  /// redis-cluster://.
  std::vector<host_port> cluster_seeds;

  /// True for a redis-sentinel:// URL.
  bool sentinel_managed() const {
    return !sentinels.empty();
  }

  /// True for a redis-cluster:// URL.
  bool cluster() const {
    return !cluster_seeds.empty();
  }
};

/// Parses redis://[user:password@]host[:port][/db] or
/// redis-sentinel://[user:password@]host[:port][,host[:port]...][/db]#name
/// (Sentinels default to port 26379; user and password are the master's) or
/// redis-cluster://[user:password@]host[:port][,host[:port]...] (seed nodes,
/// port 6379 by default, database 0 only),
/// including
/// redis://:password@host, redis://user@host and bracketed IPv6 hosts such as
/// redis://[::1]:6380/2. User and password may be percent-encoded (%40 for
/// '@'); the last '@' ends the credentials, so an unencoded '@' or '/' in the
/// password still parses. Returns std::nullopt on malformed input and then,
/// unless why is null, sets *why to a sentence a person understands.
std::optional<redis_endpoint> parse_redis_url(std::string_view url,
                                              std::string* why);

/// Returns the endpoint as a redis:// (or redis-sentinel://) URL with ports
/// and db spelled out and the password replaced by "***", for logs and
/// health output.
std::string redacted(const redis_endpoint& x);

/// The redis:// URL, with its password, of one node of the Redis Cluster
/// `cluster` names: the cache of that node connects with it.
std::string node_url(const redis_endpoint& cluster, const host_port& node);

/// "host:port" (IPv6 in brackets), for logs and errors.
std::string address_of(const host_port& x);

/// "host:port" of the server the endpoint names.
std::string address_of(const redis_endpoint& x);

} // namespace cafcache
