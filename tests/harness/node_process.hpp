#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cafcache {

/// A child process whose stdout is read line by line, for tests that run
/// cafcache-node and cafcache-cli as separate processes. Stopped by its pid:
/// the destructor sends SIGKILL if it still runs.
class child_process {
public:
  using duration = std::chrono::milliseconds;

  /// Starts the program `argv[0]` (a path). Its stderr is inherited. Throws
  /// std::runtime_error when it cannot fork.
  explicit child_process(const std::vector<std::string>& argv);

  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The process id, or -1 once it has been waited for.
  pid_t pid() const {
    return pid_;
  }

  /// The next line of stdout, without its newline; nothing on end of output
  /// or when no line arrived within `limit`.
  std::optional<std::string> read_line(duration limit);

  /// Reads lines until one contains `text`; false on end of output or when
  /// `limit` passed first.
  bool wait_for_line(const std::string& text, duration limit);

  /// Sends `sig` (SIGTERM, SIGKILL, SIGSTOP, ...).
  void signal(int sig);

  /// Waits up to `limit` for the process to end. Returns its exit code, or
  /// 128 + signal number when a signal ended it; nothing when it still runs.
  std::optional<int> wait(duration limit);

  /// SIGKILL, then waits for the process to end.
  void kill();

private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

/// What a finished run of a program printed and returned.
struct run_result {
  /// Exit code, 128 + signal number, or -1 when it ran out of time (it was
  /// then killed).
  int status = -1;
  std::string out;
  std::string err;
};

/// Runs a program to its end, capturing stdout and stderr; kills it when it
/// takes longer than `limit`.
run_result run_program(const std::vector<std::string>& argv,
                       std::chrono::milliseconds limit);

/// A cafcache-node on a free loopback port: started with
/// `--cafcache.port=0` and `args`, its port read from its first line.
class node_process {
public:
  /// Throws std::runtime_error when the node does not print its listening
  /// line within `limit` (its own message is on stderr).
  node_process(const std::string& exe, const std::vector<std::string>& args,
               std::chrono::milliseconds limit = std::chrono::seconds(20));

  uint16_t port() const {
    return port_;
  }

  /// "127.0.0.1:PORT", as cafcache-cli's --node takes it.
  std::string address() const {
    return "127.0.0.1:" + std::to_string(port_);
  }

  /// The lines the node printed after its first one, read so far.
  std::vector<std::string>& banner() {
    return banner_;
  }

  child_process& process() {
    return proc_;
  }

private:
  child_process proc_;
  uint16_t port_ = 0;
  std::vector<std::string> banner_;
};

} // namespace cafcache
