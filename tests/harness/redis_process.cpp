#include "tests/harness/redis_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <stdexcept>
#include <thread>

#include <hiredis/hiredis.h>

namespace cafcache {

namespace {

constexpr auto start_timeout = std::chrono::seconds(20);

resp_value convert(const redisReply* r) {
  resp_value out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = resp_value::kind::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = resp_value::kind::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = resp_value::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = resp_value::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = resp_value::kind::array;
      for (size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

resp_value run(redisContext* ctx, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (auto& arg : argv) {
    ptrs.push_back(arg.data());
    lens.push_back(arg.size());
  }
  auto reply = static_cast<redisReply*>(redisCommandArgv(
    ctx, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (reply == nullptr)
    throw std::runtime_error("redis command failed: connection lost");
  auto out = convert(reply);
  freeReplyObject(reply);
  return out;
}

} // namespace

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

redis_process::redis_process(std::vector<std::string> extra_args)
  : redis_process(std::string{}, std::move(extra_args)) {
  // nop
}

redis_process::redis_process(std::string config_file,
                             std::vector<std::string> extra_args)
  : config_file_(std::move(config_file)), extra_args_(std::move(extra_args)) {
  for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
    port_ = free_port();
    try {
      start();
    } catch (const std::runtime_error&) {
      if (attempt == 4)
        throw;
    }
  }
}

redis_process::~redis_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    kill();
  }
  std::remove(log_file().c_str());
}

std::string redis_process::url(const std::string& userinfo) const {
  auto out = std::string{"redis://"};
  if (!userinfo.empty())
    out += userinfo + "@";
  return out + "127.0.0.1:" + std::to_string(port_);
}

std::string redis_process::log_file() const {
  return "/tmp/cafcache-redis-" + std::to_string(port_) + ".log";
}

std::string redis_process::log_tail() const {
  std::ifstream in{log_file()};
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > 8)
      lines.pop_front();
  }
  std::string out;
  for (auto& line : lines)
    out += "\n  " + line;
  return out;
}

void redis_process::start() {
  if (try_start())
    return;
  // A loaded 2-core machine (the sanitizer pass of the chaos run) once kept
  // a restarted redis-server from answering for 20 s; what it logged tells
  // why, and a second start usually gets through.
  std::fprintf(stderr, "redis-server on port %u did not answer within 20 s; "
                       "starting it again. It logged:%s\n",
               static_cast<unsigned>(port_), log_tail().c_str());
  if (try_start())
    return;
  throw std::runtime_error("redis-server did not answer within 20 s, twice; "
                           "it logged:"
                           + log_tail());
}

bool redis_process::try_start() {
  std::vector<std::string> args{"redis-server"};
  if (!config_file_.empty())
    args.push_back(config_file_);
  args.insert(args.end(), {"--port", std::to_string(port_), "--bind",
                           "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--loglevel", "notice", "--logfile", log_file()});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  auto pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& arg : args)
      argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  // Ready when it accepts a connection and answers (even with NOAUTH).
  auto deadline = std::chrono::steady_clock::now() + start_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start; it logged:"
                               + log_tail());
    }
    timeval tv{0, 200000};
    auto ctx = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (ctx != nullptr && ctx->err == 0) {
      auto reply = static_cast<redisReply*>(redisCommand(ctx, "PING"));
      // NOAUTH counts as up; LOADING (AOF replay after restart) does not.
      bool ok = reply != nullptr
                && !(reply->type == REDIS_REPLY_ERROR
                     && std::string{reply->str, reply->len}.rfind("LOADING", 0)
                          == 0);
      if (reply)
        freeReplyObject(reply);
      redisFree(ctx);
      if (ok)
        return true;
    } else if (ctx != nullptr) {
      redisFree(ctx);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  return false;
}

void redis_process::kill() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void redis_process::pause() {
  if (pid_ > 0)
    ::kill(pid_, SIGSTOP);
}

void redis_process::resume() {
  if (pid_ > 0)
    ::kill(pid_, SIGCONT);
}

void redis_process::restart() {
  kill();
  start();
}

resp_value redis_process::command(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& auth) const {
  timeval tv{2, 0};
  auto ctx = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (ctx == nullptr || ctx->err != 0) {
    if (ctx)
      redisFree(ctx);
    throw std::runtime_error("cannot reach redis-server");
  }
  redisSetTimeout(ctx, tv);
  try {
    if (!auth.empty())
      run(ctx, auth);
    auto out = run(ctx, argv);
    redisFree(ctx);
    return out;
  } catch (...) {
    redisFree(ctx);
    throw;
  }
}

std::vector<std::string> request_client_ids(const redis_process& redis) {
  std::vector<std::string> out;
  std::istringstream lines{redis.command({"CLIENT", "LIST"}).str};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("cmd=client|list") != std::string::npos
        || line.find(" sub=0") == std::string::npos)
      continue;
    auto at = line.find("id=");
    if (at != std::string::npos)
      out.push_back(line.substr(at + 3, line.find(' ', at) - at - 3));
  }
  return out;
}

} // namespace cafcache
