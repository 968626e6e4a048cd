// `make demo`: a cache-aside workload in front of a slow "database" while
// Redis is killed and restarted. Starts its own redis-server on a free port,
// prints a timeline and the final counters, stops everything it started.
//
// `make demo-cluster` (`cafcache-demo --cluster`): the same story on a
// loopback Redis Cluster of 3 primaries and 3 replicas, where the primary
// of one shard is killed and its replica takes over; see demo_cluster.cpp.

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>

#include "cafcache.hpp"
#include "tests/harness/redis_process.hpp"
#include "tools/demo.hpp"

using namespace cafcache;
using namespace cafcache::demo;
using namespace std::chrono_literals;

namespace {

struct demo_config : system_config {
  bool cluster = false;

  demo_config() {
    load<caf::io::middleman>();
    opt_group{custom_options_, "global"}.add(
      cluster, "cluster",
      "run the story on a loopback Redis Cluster (3 primaries, 3 replicas) "
      "and kill one primary");
  }
};

int run(caf::actor_system& sys, const std::string& dir) {
  // Redis keeps its data across the restart (append-only file), as a
  // production Redis would: the replay has real stale values to delete.
  redis_process redis{{"--dir", dir, "--appendonly", "yes"}};
  auto cfg = settings(redis.url());
  auto cache = spawn_cache(sys, cfg);
  if (!cache) {
    fmt::print(stderr, "cannot start the cache: {}\n",
               to_sentence(cache.error()));
    return 1;
  }
  stats_report stats;
  {
    scenario s{sys, *cache};
    s.say("redis-server started on 127.0.0.1:{} (pid {})", redis.port(),
          redis.pid());
    s.say("cache spawned; 50 user profiles, database answers in 5 ms");
    s.workload(1500ms);
    s.say("kill -9 redis-server (pid {})", redis.pid());
    redis.kill();
    s.workload(1500ms);
    write_result w;
    s.call(put_atom::value, std::string{"user:7"},
           cache_value{codec_kind::raw, "profile-of-user:7 (edited)"},
           set_options{}, w);
    s.say("set user:7 during the outage -> stored in the {} (dirty, "
          "replayed before Redis is used again)",
          to_string(w.target));
    s.call(delete_atom::value, std::string{"user:8"}, request_options{}, w);
    s.say("invalidate user:8 during the outage -> {}", to_string(w.target));
    s.workload(800ms);
    s.say("restarting redis-server on the same port");
    redis.restart();
    if (!s.wait_healthy(10s)) {
      s.say("cache did not recover within 10 s");
      return 1;
    }
    stats_report mid;
    s.call(stats_atom::value, mid);
    s.say("recovered: {} dirty keys deleted in Redis before it was used "
          "again; breaker half-opened {} times, closed {} times",
          mid.replayed_keys, mid.breaker_half_opened, mid.breaker_closed);
    get_result edited;
    s.call(get_atom::value, std::string{"user:7"}, request_options{}, edited);
    s.say("get user:7 -> {} (Redis reloaded the pre-outage value from its "
          "append-only file; the replay deleted it before any read)",
          edited.found ? edited.value.data : "miss");
    s.workload(1500ms);
    s.call(stats_atom::value, stats);
    s.say("done: {} database loads in total", s.total_loads());
  }
  print_counters(stats);
  stop_cache(sys, *cache);
  redis.kill();
  fmt::print("stopped the cache and redis-server\n");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  demo_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    fmt::print(stderr, "{}\n", caf::to_string(err));
    return 1;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  int rc = 0;
  if (cfg.cluster) {
    caf::actor_system sys{cfg};
    rc = run_cluster(sys);
  } else {
    auto dir = std::filesystem::temp_directory_path()
               / fmt::format("cafcache-demo-{}", ::getpid());
    std::filesystem::create_directories(dir);
    caf::actor_system sys{cfg};
    rc = run(sys, dir.string());
    std::filesystem::remove_all(dir);
  }
  return rc;
}
