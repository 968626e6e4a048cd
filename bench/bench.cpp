// cafcache-bench: drives a cache actor with N closed-loop requester actors
// (each keeps one request in flight) and reports throughput and latency per
// operation. With --baseline it also runs redis-benchmark with matching
// settings against the same redis-server, in the same run. --bench.mode=bare
// drives the hand-written baseline (bench/bare.hpp) with the same requesters.
//
//   cafcache-bench --bench.requesters=50 --bench.duration=5s --bench.json

#include <dlfcn.h>
#include <malloc.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <random>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/bare.hpp"
#include "bench/bench_config.hpp"
#include "bench/suite.hpp"
#include "cafcache.hpp"
#include "runtime/latency_histogram.hpp"
#include "tools/redis_process.hpp"

using namespace cafcache;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// Per-requester results; only its own actor writes them while running.
struct requester_stats {
  std::atomic<uint64_t> done{0};
  uint64_t errors = 0;
  uint64_t hits = 0;
  latency_histogram get_latency;
  latency_histogram set_latency;
};

/// One request in flight at a time, GET or SET by `read_ratio`, until
/// `until`. `Cache` is cache_actor or bare_actor: both take the same messages.
template <class Cache>
void requester(caf::event_based_actor* self, Cache cache, requester_stats* out,
               uint32_t keys, cache_value value, double read_ratio,
               clock_type::time_point until, uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  auto step = std::make_shared<std::function<void()>>();
  // The loop refers to itself; break the cycle once the actor is gone.
  self->attach_functor([step] { *step = nullptr; });
  *step = [=] {
    if (clock_type::now() >= until) {
      self->quit();
      return;
    }
    auto key = "key:" + std::to_string((*rng)() % keys);
    bool read = std::uniform_real_distribution<double>{0, 1}(*rng) < read_ratio;
    auto start = clock_type::now();
    auto finish = [=](bool ok, bool was_read) {
      auto took = clock_type::now() - start;
      (was_read ? out->get_latency : out->set_latency).record(took);
      if (!ok)
        ++out->errors;
      out->done.fetch_add(1, std::memory_order_relaxed);
      (*step)();
    };
    if (read) {
      self->request(cache, caf::infinite, get_atom::value, std::move(key),
                    request_options{})
        .then(
          [=](get_result& r) {
            out->hits += r.found ? 1 : 0;
            finish(true, true);
          },
          [=](caf::error&) { finish(false, true); });
    } else {
      self->request(cache, caf::infinite, put_atom::value, std::move(key),
                    value, set_options{})
        .then([=](write_result&) { finish(true, false); },
              [=](caf::error&) { finish(false, false); });
    }
  };
  (*step)();
}

/// What an application stores with the msgpack codec: a map with named
/// fields, one of them padding to the value size.
struct profile {
  uint64_t id = 4711;
  std::string name = "user-4711";
  double score = 0.75;
  std::vector<std::string> tags{"beta", "eu-west"};
  std::string bio;
  MSGPACK_DEFINE_MAP(id, name, score, tags, bio);
};

/// The value every SET writes: `value_bytes` of 'v' as raw bytes, or a
/// profile of at most `value_bytes` with the msgpack codec.
cache_value bench_value(const bench_config& cfg) {
  if (cfg.codec != "msgpack")
    return {codec_kind::raw, std::string(cfg.value_bytes, 'v')};
  profile p;
  p.bio.assign(cfg.value_bytes, 'v');
  auto packed = pack(p);
  while (packed.data.size() > cfg.value_bytes && !p.bio.empty()) {
    p.bio.pop_back();
    packed = pack(p);
  }
  return packed;
}

/// Returns once `cache` has taken every earlier message of `self`.
void round_trip(caf::scoped_actor& self, const cache_actor& cache) {
  self->request(cache, caf::infinite, stats_atom::value)
    .receive([](stats_report&) {}, [](caf::error&) {});
}

void round_trip(caf::scoped_actor& self, const bare_actor& bare) {
  self->request(bare, caf::infinite, get_atom::value, std::string{},
                request_options{})
    .receive([](get_result&) {}, [](caf::error&) {});
}

/// Writes `count` keys named prefix + number: batches of fire-and-forget
/// sets, each batch closed by a round trip so the mailbox stays small.
template <class Cache>
void fill(caf::actor_system& sys, const Cache& cache,
          const std::string& prefix, uint32_t count, const cache_value& value,
          uint64_t* key_bytes = nullptr) {
  caf::scoped_actor self{sys};
  constexpr uint32_t batch = 5000;
  for (uint32_t i = 0; i < count; ++i) {
    auto key = prefix + std::to_string(i);
    if (key_bytes != nullptr)
      *key_bytes += key.size();
    caf::anon_send(cache, put_atom::value, std::move(key), value,
                   set_options{});
    if ((i + 1) % batch == 0 || i + 1 == count)
      round_trip(self, cache);
  }
}

struct run_result {
  double ops_per_s = 0;
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::array<uint64_t, 3> get_us{};
  std::array<uint64_t, 3> set_us{};
  uint64_t gets = 0;
  uint64_t hits = 0;
  uint64_t sets = 0;
  /// CPU time (user + system) of this process and of redis-server per
  /// request, in microseconds.
  double cpu_us_per_op = 0;
  double redis_cpu_us_per_op = 0;
  /// malloc calls of this process per request; negative unless the
  /// allocation counter is preloaded (bench/alloc_counter.c).
  double allocs_per_op = -1;
  /// Remote modes: CPU time of the server process per request (the client
  /// is `cpu_us_per_op`).
  double server_cpu_us_per_op = 0;
};

/// malloc calls so far, when bench/alloc_counter.c is preloaded.
std::optional<uint64_t> allocations() {
  using counter = unsigned long (*)();
  static auto fn = reinterpret_cast<counter>(
    ::dlsym(RTLD_DEFAULT, "cafcache_alloc_count"));
  if (fn == nullptr)
    return std::nullopt;
  return fn();
}

/// User + system CPU time this process used so far.
std::chrono::microseconds own_cpu() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return std::chrono::seconds{t.tv_sec}
           + std::chrono::microseconds{t.tv_usec};
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

/// User + system CPU time of process `pid` so far (clock-tick resolution),
/// zero when it cannot be read.
std::chrono::microseconds cpu_of(pid_t pid) {
  std::ifstream in{fmt::format("/proc/{}/stat", pid)};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  // Fields after the command name, which is in parentheses and may hold
  // spaces: state is field 3, utime 14, stime 15.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream fields{text.substr(close + 2)};
  std::string skip;
  for (int i = 3; i < 14; ++i)
    fields >> skip;
  uint64_t utime = 0, stime = 0;
  fields >> utime >> stime;
  auto tick_us = 1000000 / ::sysconf(_SC_CLK_TCK);
  return std::chrono::microseconds{(utime + stime) * tick_us};
}

template <class Cache>
run_result drive(caf::actor_system& sys, const Cache& cache,
                 const bench_config& cfg, bool progress,
                 pid_t redis_pid = -1) {
  auto value = bench_value(cfg);
  std::vector<std::unique_ptr<requester_stats>> stats;
  for (uint32_t i = 0; i < cfg.requesters; ++i)
    stats.push_back(std::make_unique<requester_stats>());
  auto cpu_before = own_cpu();
  auto allocs_before = allocations();
  auto redis_before = redis_pid > 0 ? cpu_of(redis_pid) : 0us;
  auto start = clock_type::now();
  auto until = start + cfg.duration;
  caf::scoped_actor self{sys};
  for (uint32_t i = 0; i < cfg.requesters; ++i)
    self->monitor(sys.spawn(requester<Cache>, cache, stats[i].get(),
                            cfg.keys, value, cfg.read_ratio, until,
                            uint64_t{i} * 7919 + 1));
  uint64_t last = 0;
  while (clock_type::now() < until) {
    std::this_thread::sleep_for(std::min<clock_type::duration>(
      1s, until - clock_type::now()));
    uint64_t now_done = 0;
    for (auto& s : stats)
      now_done += s->done.load(std::memory_order_relaxed);
    if (progress)
      std::fprintf(stderr, "  ... %llu ops/s\n",
                   static_cast<unsigned long long>(now_done - last));
    last = now_done;
  }
  for (uint32_t i = 0; i < cfg.requesters; ++i)
    self->receive([](const caf::down_msg&) {});
  auto elapsed = std::chrono::duration<double>(clock_type::now() - start);
  auto cpu = own_cpu() - cpu_before;
  auto allocs_after = allocations();
  auto redis_cpu = redis_pid > 0 ? cpu_of(redis_pid) - redis_before : 0us;
  latency_histogram gets, sets;
  run_result out;
  for (auto& s : stats) {
    out.ops += s->done.load();
    out.errors += s->errors;
    out.hits += s->hits;
    gets.merge(s->get_latency);
    sets.merge(s->set_latency);
  }
  out.ops_per_s = static_cast<double>(out.ops) / elapsed.count();
  if (out.ops > 0) {
    auto ops = static_cast<double>(out.ops);
    out.cpu_us_per_op = static_cast<double>(cpu.count()) / ops;
    out.redis_cpu_us_per_op = static_cast<double>(redis_cpu.count()) / ops;
    if (allocs_before && allocs_after)
      out.allocs_per_op
        = static_cast<double>(*allocs_after - *allocs_before) / ops;
  }
  out.gets = gets.count();
  out.sets = sets.count();
  out.get_us = {gets.percentile_us(0.5), gets.percentile_us(0.99),
                gets.percentile_us(0.999)};
  out.set_us = {sets.percentile_us(0.5), sets.percentile_us(0.99),
                sets.percentile_us(0.999)};
  return out;
}

/// redis-benchmark with the same clients, value size and key range; returns
/// requests per second for each test and its p50 in microseconds.
nlohmann::json redis_benchmark(uint16_t port, const bench_config& cfg,
                               const std::string& tests) {
  auto n = std::max<uint64_t>(100000, uint64_t{cfg.requesters} * 2000);
  std::string cmd = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port)
                    + " -c "
                    + std::to_string(cfg.baseline_clients > 0
                                       ? cfg.baseline_clients
                                       : cfg.requesters)
                    + " -n "
                    + std::to_string(n) + " -d "
                    + std::to_string(cfg.value_bytes) + " -r "
                    + std::to_string(cfg.keys) + " -P "
                    + std::to_string(cfg.pipeline) + " -t " + tests
                    + " --csv 2>/dev/null";
  nlohmann::json out = nlohmann::json::object();
  auto pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr)
    return out;
  char line[512];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    // "GET","12345.67","0.123","0.010","0.111",...
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (char* p = line; *p != '\0' && *p != '\n'; ++p) {
      if (*p == '"')
        quoted = !quoted;
      else if (*p == ',' && !quoted)
        cells.push_back(std::move(cell)), cell.clear();
      else
        cell += *p;
    }
    cells.push_back(cell);
    if (cells.size() < 5 || cells[0] == "test")
      continue;
    out[cells[0]] = {{"ops_per_s", std::stod(cells[1])},
                     {"p50_us", std::stod(cells[4]) * 1000.0}};
  }
  ::pclose(pipe);
  return out;
}

uint64_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

/// Fills the fallback tier through the cache (breaker open, Redis down) and
/// reports the RSS growth per entry beyond key and value bytes.
nlohmann::json memory_run(caf::actor_system& sys, const bench_config& cfg) {
  config c;
  c.redis_url = "redis://127.0.0.1:" + std::to_string(free_port());
  c.fallback_max_entries = cfg.keys;
  c.fallback_max_bytes = uint64_t{cfg.keys} * (cfg.value_bytes + 64);
  c.dirty_max_keys = 1;
  auto cache = spawn_cache(sys, c);
  if (!cache)
    return {{"error", to_sentence(cache.error())}};
  cache_value value{codec_kind::raw, std::string(cfg.value_bytes, 'v')};
  // Warm up allocator and mailboxes before the baseline reading.
  fill(sys, *cache, "warm:", 10000, value);
  auto before = rss_bytes();
  auto heap_before = ::mallinfo2().uordblks;
  uint64_t key_bytes = 0;
  fill(sys, *cache, "key:", cfg.keys, value, &key_bytes);
  caf::scoped_actor self{sys};
  stats_report stats;
  self->request(*cache, 10s, stats_atom::value)
    .receive([&](stats_report& s) { stats = s; }, [](caf::error&) {});
  auto growth = static_cast<double>(rss_bytes() - before);
  // Bytes malloc hands out (all arenas): RSS growth beyond this is memory
  // the allocator holds free.
  auto heap_growth = static_cast<double>(::mallinfo2().uordblks - heap_before);
  auto entries = static_cast<double>(cfg.keys);
  // The stored value is the 2-byte envelope plus the payload.
  auto payload = static_cast<double>(key_bytes)
                 + entries * (cfg.value_bytes + 2.0);
  stop_cache(sys, *cache);
  return {{"entries", stats.fallback_entries},
          {"rss_growth_bytes", growth},
          {"payload_bytes", payload},
          {"overhead_per_entry", (growth - payload) / entries},
          {"heap_in_use_growth_bytes", heap_growth},
          {"heap_overhead_per_entry", (heap_growth - payload) / entries}};
}

/// A database that counts its calls and answers each after 20 ms.
caf::behavior counting_database(caf::event_based_actor* self,
                                std::atomic<uint64_t>* calls) {
  using pending = std::pair<caf::response_promise, std::string>;
  auto queue = std::make_shared<std::deque<pending>>();
  return {
    [=](load_atom, const std::string& key) {
      ++*calls;
      queue->emplace_back(self->make_response_promise(), key);
      self->delayed_send(self, 20ms, caf::ok_atom::value);
      return caf::delegated<load_result>{};
    },
    [=](caf::ok_atom) {
      auto& [rp, key] = queue->front();
      rp.deliver(load_result{true, cache_value{codec_kind::raw, "row-" + key}});
      queue->pop_front();
    },
  };
}

/// `requesters` concurrent cold misses on one key: database calls with
/// get_or_load versus a client that does get, load, set itself.
nlohmann::json stampede_run(caf::actor_system& sys, const bench_config& cfg) {
  auto redis = std::make_unique<redis_process>();
  config c;
  c.redis_url = redis->url();
  auto cache = spawn_cache(sys, c);
  if (!cache)
    return {{"error", to_sentence(cache.error())}};
  std::atomic<uint64_t> calls{0};
  auto db = caf::actor_cast<loader_actor>(sys.spawn(counting_database, &calls));
  auto wave = [&](const std::string& key, bool single_flight) {
    calls = 0;
    caf::scoped_actor self{sys};
    auto n = cfg.requesters;
    auto driver = sys.spawn([=](caf::event_based_actor* me) {
      for (uint32_t i = 0; i < n; ++i) {
        if (single_flight) {
          me->request(*cache, caf::infinite, load_atom::value, key, db,
                      set_options{})
            .then([](get_result&) {}, [](caf::error&) {});
          continue;
        }
        me->request(*cache, caf::infinite, get_atom::value, key,
                    request_options{})
          .then(
            [=](get_result& r) {
              if (r.found)
                return;
              me->request(db, caf::infinite, load_atom::value, key)
                .then([=](load_result& loaded) {
                  me->request(*cache, caf::infinite, put_atom::value, key,
                              loaded.value, set_options{})
                    .then([](write_result&) {}, [](caf::error&) {});
                });
            },
            [](caf::error&) {});
      }
    });
    self->monitor(driver);
    self->receive([](const caf::down_msg&) {});
    return calls.load();
  };
  auto plain = wave("cold:plain", false);
  auto coalesced = wave("cold:single-flight", true);
  caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
  stop_cache(sys, *cache);
  return {{"concurrent_misses", cfg.requesters},
          {"loader_calls_get_then_set", plain},
          {"loader_calls_get_or_load", coalesced}};
}

/// Drives the bare baseline (bench/bare.hpp) against `redis`.
std::optional<run_result> bare_run(caf::actor_system& sys,
                                   const bench_config& cfg,
                                   const redis_process& redis) {
  bare_options opts;
  opts.port = redis.port();
  opts.key_prefix = cfg.key_prefix;
  opts.codec = bench_value(cfg).codec;
  opts.connections = cfg.bare_connections;
  auto bare = spawn_bare(sys, opts);
  if (!bare) {
    fmt::print(stderr, "{}\n", sys.render(bare.error()));
    return std::nullopt;
  }
  fill(sys, *bare, "key:", cfg.keys, bench_value(cfg));
  auto r = drive(sys, *bare, cfg, !cfg.json, redis.pid());
  stop_bare(*bare);
  return r;
}

/// Drives a cache actor with the backend of `cfg.mode`: redis (against
/// `redis`), null, or down.
std::optional<run_result> cache_run(caf::actor_system& sys,
                                    const bench_config& cfg,
                                    const redis_process* redis) {
  config c;
  c.key_prefix = cfg.key_prefix;
  c.request_timeout = 2s;
  if (cfg.mode == "null")
    c.backend = "null";
  else if (cfg.mode == "down")
    c.redis_url = fmt::format("redis://127.0.0.1:{}", free_port());
  else
    c.redis_url = redis->url();
  auto cache = spawn_cache(sys, c);
  if (!cache) {
    fmt::print(stderr, "{}\n", to_sentence(cache.error()));
    return std::nullopt;
  }
  fill(sys, *cache, "key:", cfg.keys, bench_value(cfg));
  if (cfg.mode == "down") {
    // Wait for the breaker: a down Redis shows as an open route.
    caf::scoped_actor self{sys};
    for (int i = 0; i < 100; ++i) {
      health_report h;
      self->request(*cache, 1s, health_atom::value)
        .receive([&](health_report& r) { h = r; }, [](caf::error&) {});
      if (h.breaker == breaker_state::open)
        break;
      std::this_thread::sleep_for(10ms);
    }
  }
  auto r = drive(sys, *cache, cfg, !cfg.json, redis ? redis->pid() : -1);
  stop_cache(sys, *cache);
  return r;
}

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
    "--bench.key-prefix=" + cfg.key_prefix, "--bench.codec=" + cfg.codec};
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

void single_run(caf::actor_system& sys, const bench_config& cfg) {
  nlohmann::json report{{"requesters", cfg.requesters},
                        {"keys", cfg.keys},
                        {"value_bytes", cfg.value_bytes},
                        {"read_ratio", cfg.read_ratio},
                        {"mode", cfg.mode},
                        {"key_prefix", cfg.key_prefix},
                        {"codec", cfg.codec}};
  if (cfg.mode == "stampede") {
    report["stampede"] = stampede_run(sys, cfg);
    std::printf("%s\n", report.dump(cfg.json ? -1 : 2).c_str());
    return;
  }
  if (cfg.mode == "memory") {
    report["memory"] = memory_run(sys, cfg);
    std::printf("%s\n", report.dump(cfg.json ? -1 : 2).c_str());
    return;
  }
  if (cfg.codec != "raw" && cfg.codec != "msgpack") {
    fmt::print(stderr, "unknown --bench.codec: {}\n", cfg.codec);
    return;
  }
  std::unique_ptr<redis_process> redis;
  if (cfg.mode != "null" && cfg.mode != "down")
    redis = std::make_unique<redis_process>();
  auto remote = cfg.mode.compare(0, 6, "remote") == 0;
  auto result = cfg.mode == "bare" ? bare_run(sys, cfg, *redis)
                : remote           ? remote_run(sys, cfg, *redis)
                                   : cache_run(sys, cfg, redis.get());
  if (!result)
    return;
  auto& r = *result;
  // The bare baseline reports under its own name, so that a results file
  // never shows its figures as cafcache's.
  const char* driven
    = cfg.mode == "bare" || cfg.mode == "remote-bare" ? "bare" : "cafcache";
  report[driven] = {{"ops_per_s", r.ops_per_s},
                    {"ops", r.ops},
                    {"errors", r.errors},
                    {"cpu_us_per_op", r.cpu_us_per_op},
                    {"redis_cpu_us_per_op", r.redis_cpu_us_per_op},
                    {"server_cpu_us_per_op", r.server_cpu_us_per_op},
                    {"allocs_per_op", r.allocs_per_op},
                    {"get", {{"count", r.gets},
                             {"hits", r.hits},
                             {"p50_us", r.get_us[0]},
                             {"p99_us", r.get_us[1]},
                             {"p999_us", r.get_us[2]}}},
                    {"set", {{"count", r.sets},
                             {"p50_us", r.set_us[0]},
                             {"p99_us", r.set_us[1]},
                             {"p999_us", r.set_us[2]}}}};
  if (cfg.baseline && redis)
    report["redis_benchmark"] = redis_benchmark(redis->port(), cfg, "get,set");
  if (cfg.json) {
    std::printf("%s\n", report.dump().c_str());
    return;
  }
  fmt::print("{}: {:.0f} ops/s, {} errors; GET p50 {} us p99 {} us p99.9 {} "
             "us; SET p50 {} us p99 {} us; CPU per request {:.1f} us "
             "(redis-server {:.1f} us)\n",
             driven, r.ops_per_s, r.errors, r.get_us[0], r.get_us[1],
             r.get_us[2], r.set_us[0], r.set_us[1], r.cpu_us_per_op,
             r.redis_cpu_us_per_op);
  if (r.allocs_per_op >= 0)
    fmt::print("{}: {:.1f} allocations per request\n", driven,
               r.allocs_per_op);
  if (report.contains("redis_benchmark"))
    fmt::print("redis-benchmark: {}\n", report["redis_benchmark"].dump());
}

void caf_main(caf::actor_system& sys, const bench_config& cfg) {
  if (!cfg.serve.empty()) {
    serve(sys, cfg);
    return;
  }
  if (cfg.suite) {
    char exe[4096];
    auto n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    run_suite(cfg, exe);
    return;
  }
  single_run(sys, cfg);
}

} // namespace

CAF_MAIN()
