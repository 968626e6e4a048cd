#include "tests/harness/node_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace cafcache {

namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    until - clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

/// Forks and executes argv; `out` and `err` (when not -1) become the child's
/// stdout and stderr.
pid_t spawn(const std::vector<std::string>& argv, int out, int err) {
  auto pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out, STDOUT_FILENO);
    if (err != -1)
      ::dup2(err, STDERR_FILENO);
    std::vector<char*> args;
    for (auto& arg : argv)
      args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

int decode_status(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

} // namespace

// -- child_process ------------------------------------------------------------

child_process::child_process(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  pid_ = spawn(argv, fds[1], -1);
  ::close(fds[1]);
  out_fd_ = fds[0];
}

child_process::~child_process() {
  kill();
  if (out_fd_ != -1)
    ::close(out_fd_);
}

std::optional<std::string> child_process::read_line(duration limit) {
  auto until = clock::now() + limit;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (eof_)
      return std::nullopt;
    pollfd pfd{out_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, remaining_ms(until)) <= 0)
      return std::nullopt;
    char buf[4096];
    auto n = ::read(out_fd_, buf, sizeof(buf));
    if (n <= 0)
      eof_ = true;
    else
      buffer_.append(buf, static_cast<size_t>(n));
  }
}

bool child_process::wait_for_line(const std::string& text, duration limit) {
  auto until = clock::now() + limit;
  while (auto line = read_line(std::chrono::milliseconds(remaining_ms(until))))
    if (line->find(text) != std::string::npos)
      return true;
  return false;
}

void child_process::signal(int sig) {
  if (pid_ > 0)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait(duration limit) {
  if (pid_ <= 0)
    return std::nullopt;
  auto until = clock::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return decode_status(status);
    }
    if (clock::now() >= until)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void child_process::kill() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

// -- run_program --------------------------------------------------------------

run_result run_program(const std::vector<std::string>& argv,
                       std::chrono::milliseconds limit) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  auto pid = spawn(argv, out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  run_result result;
  auto until = clock::now() + limit;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  bool timed_out = false;
  while (open > 0) {
    if (::poll(fds, 2, remaining_ms(until)) <= 0) {
      timed_out = true;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      auto n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        fds[i].fd = -1;
        --open;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(n));
      }
    }
  }
  if (timed_out)
    ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  ::close(err[0]);
  result.status = timed_out ? -1 : decode_status(status);
  return result;
}

// -- node_process -------------------------------------------------------------

namespace {

std::vector<std::string> node_argv(const std::string& exe,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> out{exe, "--cafcache.port=0"};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

} // namespace

node_process::node_process(const std::string& exe,
                           const std::vector<std::string>& args,
                           std::chrono::milliseconds limit)
  : proc_(node_argv(exe, args)) {
  const std::string prefix = "cafcache-node listening on ";
  auto first = proc_.read_line(limit);
  auto colon = first ? first->rfind(':') : std::string::npos;
  if (!first || first->compare(0, prefix.size(), prefix) != 0
      || colon == std::string::npos)
    throw std::runtime_error("cafcache-node did not start: "
                             + first.value_or("no output"));
  port_ = static_cast<uint16_t>(std::stoul(first->substr(colon + 1)));
  while (auto line = proc_.read_line(limit)) {
    banner_.push_back(*line);
    if (line->compare(0, 17, "cafcache-node tls") == 0)
      break;
  }
}

} // namespace cafcache
