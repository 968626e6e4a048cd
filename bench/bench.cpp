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
#include "bench/remote.hpp"
#include "bench/suite.hpp"
#include "bench/workload.hpp"
#include "cafcache.hpp"
#include "runtime/latency_histogram.hpp"
#include "tests/harness/redis_cluster.hpp"
#include "tests/harness/redis_process.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

/// redis-benchmark with the same clients, value size and key range; returns
/// requests per second for each test and its p50 in microseconds.
nlohmann::json redis_benchmark(uint16_t port, const bench_config& cfg,
                               const std::string& tests,
                               bool cluster = false) {
  // In cluster mode redis-benchmark's rate has a resolution of about a
  // second of run time: five times the requests keep it within 20 %.
  auto n = std::max<uint64_t>(100000, uint64_t{cfg.requesters} * 2000)
           * (cluster ? 5 : 1);
  std::string cmd = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port)
                    + (cluster ? " --cluster" : "") + " -c "
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

/// Drives a cache actor on the loopback Redis Cluster `cluster`.
std::optional<run_result> cluster_run(caf::actor_system& sys,
                                      const bench_config& cfg,
                                      redis_cluster& cluster) {
  // Any --cafcache.* option applies to the cache under test.
  auto c = config::from(sys.config());
  c.key_prefix = cfg.key_prefix;
  c.request_timeout = 2s;
  c.redis_url = cluster.url();
  auto cache = spawn_cache(sys, c);
  if (!cache) {
    fmt::print(stderr, "{}\n", to_sentence(cache.error()));
    return std::nullopt;
  }
  fill(sys, *cache, "key:", cfg.keys, bench_value(cfg));
  // The CPU of the first primary stands for redis-server's.
  auto r = drive(sys, *cache, cfg, !cfg.json, cluster.node(0).pid());
  stop_cache(sys, *cache);
  return r;
}

/// Drives a cache actor with the backend of `cfg.mode`: redis (against
/// `redis`), null, or down.
std::optional<run_result> cache_run(caf::actor_system& sys,
                                    const bench_config& cfg,
                                    const redis_process* redis) {
  // Any --cafcache.* option applies to the cache under test.
  auto c = config::from(sys.config());
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
  std::unique_ptr<redis_cluster> cluster;
  if (cfg.mode == "cluster")
    cluster = std::make_unique<redis_cluster>(cfg.primaries, 0);
  else if (cfg.mode != "null" && cfg.mode != "down")
    redis = std::make_unique<redis_process>();
  auto remote = cfg.mode.compare(0, 6, "remote") == 0;
  auto result = cfg.mode == "bare" ? bare_run(sys, cfg, *redis)
                : remote           ? remote_run(sys, cfg, *redis)
                : cluster          ? cluster_run(sys, cfg, *cluster)
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
                             {"from_fallback", r.from_fallback},
                             {"p50_us", r.get_us[0]},
                             {"p99_us", r.get_us[1]},
                             {"p999_us", r.get_us[2]}}},
                    {"set", {{"count", r.sets},
                             {"p50_us", r.set_us[0]},
                             {"p99_us", r.set_us[1]},
                             {"p999_us", r.set_us[2]}}}};
  if (r.from_fallback > 0 && cfg.mode != "down")
    fmt::print(stderr,
               "warning: the fallback answered {} of {} gets: this run does "
               "not measure Redis alone\n",
               r.from_fallback, r.gets);
  if (cfg.baseline && redis)
    report["redis_benchmark"] = redis_benchmark(redis->port(), cfg, "get,set");
  // redis-benchmark --cluster refuses a cluster of one node, which holds
  // every slot: the plain run is the same there.
  if (cfg.baseline && cluster)
    report["redis_benchmark"] = redis_benchmark(cluster->node(0).port(), cfg,
                                                "get,set",
                                                cfg.primaries > 1);
  if (cluster)
    report["primaries"] = cfg.primaries;
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
