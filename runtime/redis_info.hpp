#pragma once

#include <string>
#include <string_view>

namespace cafcache {

/// What the handshake's INFO replies say about the Redis behind a connection.
struct redis_info {
  /// INFO server: this redis-server process; a restart draws a new one.
  std::string run_id;
  /// INFO replication: "master" or "slave".
  std::string role;
  /// INFO replication: the replication ID of the dataset this server holds
  /// (on a replica, its master's).
  std::string master_replid;

  /// Returns "run_id/master_replid", or an empty string unless both were
  /// read.
  std::string identity() const;
};

/// Returns the value of the `key:value` line of an INFO reply, or an empty
/// string when `info` has no such line.
std::string info_field(std::string_view info, std::string_view key);

} // namespace cafcache
