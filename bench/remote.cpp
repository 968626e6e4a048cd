#include "bench/remote.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/io/all.hpp>
#include <fmt/format.h>

using namespace std::chrono_literals;

namespace cafcache {

namespace {

/// A server process of a remote mode, stopped by its pid.
struct server_process {
  pid_t pid = -1;
  int to_child = -1;
  uint16_t port = 0;

  ~server_process() {
    if (to_child >= 0)
      ::close(to_child);
    if (pid > 0) {
      // Closing stdin ends it; the kill is for one that hangs.
      for (int i = 0; i < 200; ++i) {
        if (::waitpid(pid, nullptr, WNOHANG) == pid)
          return;
        std::this_thread::sleep_for(10ms);
      }
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

/// Starts this binary as the server of `what` against the Redis on
/// `redis_port`; returns once it published (nullopt when it failed).
std::unique_ptr<server_process> start_server(const bench_config& cfg,
                                             const std::string& what,
                                             uint16_t redis_port) {
  char exe[4096];
  auto n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  int in[2];
  int out[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0)
    return nullptr;
  auto args = std::vector<std::string>{
    exe, "--bench.serve=" + what,
    fmt::format("--bench.redis-port={}", redis_port),
    fmt::format("--bench.keys={}", cfg.keys),
    fmt::format("--bench.value-bytes={}", cfg.value_bytes),
    "--bench.codec=" + cfg.codec};
  // CAF's parser refuses an option with an empty value.
  if (!cfg.key_prefix.empty())
    args.push_back("--bench.key-prefix=" + cfg.key_prefix);
  auto server = std::make_unique<server_process>();
  server->pid = ::fork();
  if (server->pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(in[1]);
    ::close(out[0]);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe, argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  server->to_child = in[1];
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n')
    line += c;
  ::close(out[0]);
  unsigned port = 0;
  if (std::sscanf(line.c_str(), "ready %u", &port) != 1 || port == 0)
    return nullptr;
  server->port = static_cast<uint16_t>(port);
  return server;
}

} // namespace

/// The server half of the remote modes: publishes a filled cache (or the
/// bare actor) on a loopback port, prints "ready PORT" and serves until
/// stdin closes.
void serve(caf::actor_system& sys, const bench_config& cfg) {
  caf::expected<uint16_t> port{caf::sec::runtime_error};
  std::optional<cache_actor> cache;
  std::optional<bare_actor> bare;
  std::optional<published_cache> published;
  if (cfg.serve == "bare") {
    bare_options opts;
    opts.port = cfg.redis_port;
    opts.key_prefix = cfg.key_prefix;
    opts.codec = bench_value(cfg).codec;
    auto x = spawn_bare(sys, opts);
    if (!x)
      return;
    bare = *x;
    fill(sys, *bare, "key:", cfg.keys, bench_value(cfg));
    port = sys.middleman().publish(*bare, 0, "127.0.0.1");
  } else {
    config c;
    c.key_prefix = cfg.key_prefix;
    c.request_timeout = 2s;
    c.redis_url = fmt::format("redis://127.0.0.1:{}", cfg.redis_port);
    auto x = spawn_cache(sys, c);
    if (!x)
      return;
    cache = *x;
    fill(sys, *cache, "key:", cfg.keys, bench_value(cfg));
    if (cfg.serve == "cafcache-unguarded") {
      port = sys.middleman().publish(*cache, 0, "127.0.0.1");
    } else if (auto p = publish_cache(sys, *cache, c)) {
      published = *p;
      port = p->port;
    }
  }
  if (!port) {
    fmt::print(stderr, "cannot publish: {}\n", sys.render(port.error()));
    return;
  }
  fmt::print("ready {}\n", *port);
  std::fflush(stdout);
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof(buf)) > 0)
    ; // Serve until the driver closes the pipe.
  if (published)
    unpublish_cache(sys, *cache, *published);
  if (cache)
    stop_cache(sys, *cache);
  if (bare)
    stop_bare(*bare);
}

/// Drives a remote mode: the server in a second process, requests over
/// CAF's network layer from this one.
std::optional<run_result> remote_run(caf::actor_system& sys,
                                     const bench_config& cfg,
                                     const redis_process& redis) {
  auto what = cfg.mode == "remote-bare"
                ? std::string{"bare"}
                : cfg.mode == "remote-unguarded" ? std::string{"cafcache-unguarded"}
                                                 : std::string{"cafcache"};
  auto server = start_server(cfg, what, redis.port());
  if (!server) {
    fmt::print(stderr, "the {} server did not start\n", what);
    return std::nullopt;
  }
  auto& mm = sys.middleman();
  auto server_started = cpu_of(server->pid);
  std::optional<run_result> r;
  if (what == "bare") {
    auto bare = mm.remote_actor<bare_actor>("127.0.0.1", server->port);
    if (!bare)
      return std::nullopt;
    r = drive(sys, *bare, cfg, !cfg.json, redis.pid());
  } else {
    auto cache = mm.remote_actor<cache_actor>("127.0.0.1", server->port);
    if (!cache)
      return std::nullopt;
    r = drive(sys, *cache, cfg, !cfg.json, redis.pid());
  }
  if (r && r->ops > 0)
    r->server_cpu_us_per_op
      = static_cast<double>((cpu_of(server->pid) - server_started).count())
        / static_cast<double>(r->ops);
  return r;
}

} // namespace cafcache
