#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/resp.hpp"

namespace cafcache {

/// A redis-server child process on a free loopback port, for tests, the demo
/// and the benchmark. Faults are real: kill() sends SIGKILL, pause() SIGSTOP.
class redis_process {
public:
  /// Starts redis-server with `extra_args` appended to its command line and
  /// waits until it answers PING. Throws std::runtime_error when it cannot.
  explicit redis_process(std::vector<std::string> extra_args = {});

  /// Starts `redis-server config_file extra_args...` (a Sentinel takes its
  /// writable config file first: `{"--sentinel"}` as extra_args).
  redis_process(std::string config_file, std::vector<std::string> extra_args);

  /// Kills the server if it still runs.
  ~redis_process();

  redis_process(const redis_process&) = delete;
  redis_process& operator=(const redis_process&) = delete;

  /// The port the server listens on (stays the same across restarts).
  uint16_t port() const {
    return port_;
  }

  /// The process id, or -1 when stopped.
  pid_t pid() const {
    return pid_;
  }

  /// redis://127.0.0.1:<port> (plus user info when given).
  std::string url(const std::string& userinfo = "") const;

  /// SIGKILL and wait for the process to end.
  void kill();

  /// SIGSTOP: the socket stays open but nothing is answered.
  void pause();

  /// SIGCONT after pause().
  void resume();

  /// Starts the server again on the same port (after kill()).
  void restart();

  /// Runs one command on a fresh connection, for checks from the outside.
  /// `auth` is sent first when not empty. Throws std::runtime_error when the
  /// server cannot be reached.
  resp_value command(const std::vector<std::string>& argv,
                     const std::vector<std::string>& auth = {}) const;

private:
  /// Starts the server and waits until it answers; a second attempt
  /// follows one that timed out, and the error names what the server
  /// logged.
  void start();

  /// One attempt: false when the server did not answer in time (it is
  /// killed then); throws when it exited.
  bool try_start();

  /// The last lines the server logged.
  std::string log_tail() const;

  std::string log_file() const;

  std::string config_file_;
  std::vector<std::string> extra_args_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

/// A TCP port on 127.0.0.1 that nothing listens on right now.
uint16_t free_port();

/// The ids (`CLIENT LIST`) of the clients of `redis` that are not subscribed
/// to a channel: the caches' request connections, for `CLIENT KILL ID`. The
/// connection asking is left out.
std::vector<std::string> request_client_ids(const redis_process& redis);

} // namespace cafcache
