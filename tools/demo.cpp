// `make demo`: a cache-aside workload in front of a slow "database" while
// Redis is killed and restarted. Starts its own redis-server on a free port,
// prints a timeline and the final counters, stops everything it started.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cafcache.hpp"
#include "tests/harness/redis_process.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

using database_actor = caf::typed_actor<
  caf::replies_to<get_atom, std::string>::with<std::string>>;

/// The slow system of record the cache sits in front of.
database_actor::behavior_type database(database_actor::pointer) {
  return {
    [](get_atom, const std::string& key) {
      std::this_thread::sleep_for(5ms);
      return "profile-of-" + key;
    },
  };
}

struct demo_config : system_config {
  demo_config() {
    load<caf::io::middleman>();
  }
};

class scenario {
public:
  scenario(caf::actor_system& sys, cache_actor cache, redis_process& redis)
    : self_(sys),
      cache_(std::move(cache)),
      db_(sys.spawn<caf::detached>(database)),
      redis_(redis),
      start_(std::chrono::steady_clock::now()) {
  }

  ~scenario() {
    self_->send_exit(db_, caf::exit_reason::user_shutdown);
  }

  /// Prints one timeline line.
  template <class... Ts>
  void say(const char* fmt, Ts... xs) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start_)
                .count();
    std::printf("[%6.2fs] ", static_cast<double>(ms) / 1000.0);
    std::printf(fmt, xs...);
    std::printf("\n");
    std::fflush(stdout);
  }

  /// Cache-aside reads of 50 user profiles for `duration`.
  void workload(caf::timespan duration) {
    auto until = std::chrono::steady_clock::now() + duration;
    uint64_t redis_hits = 0, stale_hits = 0, loads = 0, errors = 0;
    for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
      auto key = "user:" + std::to_string(i % 50);
      get_result r;
      if (!call(get_atom::value, key, request_options{}, r)) {
        ++errors;
      } else if (r.found) {
        ++(r.source == tier::redis ? redis_hits : stale_hits);
      } else {
        auto value = load(key);
        ++loads;
        write_result w;
        if (!call(put_atom::value, key, cache_value{codec_kind::raw, value},
                  set_options{}, w))
          ++errors;
      }
      watch();
    }
    say("  phase: %llu hits from Redis, %llu stale hits from the fallback, "
        "%llu database loads, %llu errors",
        ull(redis_hits), ull(stale_hits), ull(loads), ull(errors));
    total_loads_ += loads;
  }

  /// Prints a line whenever the route or the connection changes.
  void watch() {
    auto now = std::chrono::steady_clock::now();
    if (now < next_watch_)
      return;
    next_watch_ = now + 50ms;
    health_report h;
    if (!call(health_atom::value, h))
      return;
    if (h.breaker != last_.breaker || h.connected != last_.connected)
      say("breaker %s, Redis %s", to_string(h.breaker),
          h.connected ? "connected" : "unreachable");
    last_ = h;
  }

  /// Waits until the cache reports itself healthy again.
  bool wait_healthy(caf::timespan limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      next_watch_ = {};
      watch();
      if (last_.healthy)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  template <class Result, class... Ts>
  bool call_into(Result& out, Ts... xs) {
    bool ok = false;
    self_->request(cache_, 5s, xs...)
      .receive([&](Result& r) { out = std::move(r); ok = true; },
               [&](caf::error&) {});
    return ok;
  }

  bool call(get_atom a, const std::string& k, request_options o,
            get_result& out) {
    return call_into(out, a, k, o);
  }

  bool call(put_atom a, const std::string& k, cache_value v, set_options o,
            write_result& out) {
    return call_into(out, a, k, std::move(v), o);
  }

  bool call(delete_atom a, const std::string& k, request_options o,
            write_result& out) {
    return call_into(out, a, k, o);
  }

  bool call(health_atom a, health_report& out) {
    return call_into(out, a);
  }

  bool call(stats_atom a, stats_report& out) {
    return call_into(out, a);
  }

  std::string load(const std::string& key) {
    std::string out;
    self_->request(db_, 5s, get_atom::value, key)
      .receive([&](std::string& v) { out = std::move(v); },
               [&](caf::error&) {});
    return out;
  }

  uint64_t total_loads() const {
    return total_loads_;
  }

  static unsigned long long ull(uint64_t x) {
    return static_cast<unsigned long long>(x);
  }

private:
  caf::scoped_actor self_;
  cache_actor cache_;
  database_actor db_;
  redis_process& redis_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point next_watch_;
  health_report last_;
  uint64_t total_loads_ = 0;
};

int run(caf::actor_system& sys, const std::string& dir) {
  // Redis keeps its data across the restart (append-only file), as a
  // production Redis would: the replay has real stale values to delete.
  redis_process redis{{"--dir", dir, "--appendonly", "yes"}};
  config cfg;
  cfg.redis_url = redis.url();
  cfg.key_prefix = "demo:";
  // Shortened so the demo takes seconds; production defaults are 30 s.
  cfg.breaker_reset_timeout = 1s;
  cfg.breaker_max_reset_timeout = 4s;
  cfg.request_timeout = 200ms;
  cfg.reconnect_min = 100ms;
  cfg.reconnect_max = 500ms;
  auto cache = spawn_cache(sys, cfg);
  if (!cache) {
    std::fprintf(stderr, "cannot start the cache: %s\n",
                 to_sentence(cache.error()).c_str());
    return 1;
  }
  stats_report stats;
  {
    scenario s{sys, *cache, redis};
    s.say("redis-server started on 127.0.0.1:%u (pid %d)",
          unsigned{redis.port()}, static_cast<int>(redis.pid()));
    s.say("cache spawned; 50 user profiles, database answers in 5 ms");
    s.workload(1500ms);
    s.say("kill -9 redis-server (pid %d)", static_cast<int>(redis.pid()));
    redis.kill();
    s.workload(1500ms);
    write_result w;
    s.call(put_atom::value, std::string{"user:7"},
           cache_value{codec_kind::raw, "profile-of-user:7 (edited)"},
           set_options{}, w);
    s.say("set user:7 during the outage -> stored in the %s (dirty, "
          "replayed before Redis is used again)",
          to_string(w.target));
    s.call(delete_atom::value, std::string{"user:8"}, request_options{}, w);
    s.say("invalidate user:8 during the outage -> %s", to_string(w.target));
    s.workload(800ms);
    s.say("restarting redis-server on the same port");
    redis.restart();
    if (!s.wait_healthy(10s)) {
      s.say("cache did not recover within 10 s");
      return 1;
    }
    stats_report mid;
    s.call(stats_atom::value, mid);
    s.say("recovered: %llu dirty keys deleted in Redis before it was used "
          "again; breaker half-opened %llu times, closed %llu times",
          scenario::ull(mid.replayed_keys),
          scenario::ull(mid.breaker_half_opened),
          scenario::ull(mid.breaker_closed));
    get_result edited;
    s.call(get_atom::value, std::string{"user:7"}, request_options{}, edited);
    s.say("get user:7 -> %s (Redis reloaded the pre-outage value from its "
          "append-only file; the replay deleted it before any read)",
          edited.found ? edited.value.data.c_str() : "miss");
    s.workload(1500ms);
    s.call(stats_atom::value, stats);
    s.say("done: %llu database loads in total", scenario::ull(s.total_loads()));
  }
  std::printf("\nfinal counters\n"
              "  gets %llu, sets %llu, invalidations %llu\n"
              "  hits from Redis %llu, hits from the fallback %llu, misses %llu\n"
              "  errors %llu, Redis failures %llu, degraded writes %llu\n"
              "  breaker opened %llu, half-opened %llu, closed %llu, "
              "reconnects %llu\n"
              "  keys replayed %llu, latency p50 %llu us, p99 %llu us\n",
              scenario::ull(stats.gets), scenario::ull(stats.sets),
              scenario::ull(stats.invalidations),
              scenario::ull(stats.hits_redis),
              scenario::ull(stats.hits_fallback), scenario::ull(stats.misses),
              scenario::ull(stats.errors), scenario::ull(stats.redis_failures),
              scenario::ull(stats.degraded_writes),
              scenario::ull(stats.breaker_opened),
              scenario::ull(stats.breaker_half_opened),
              scenario::ull(stats.breaker_closed),
              scenario::ull(stats.reconnects),
              scenario::ull(stats.replayed_keys),
              scenario::ull(stats.latency_p50_us),
              scenario::ull(stats.latency_p99_us));
  stop_cache(sys, *cache);
  redis.kill();
  std::printf("stopped the cache and redis-server\n");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  demo_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "%s\n", caf::to_string(err).c_str());
    return 1;
  }
  int rc = 0;
  {
    auto dir = std::filesystem::temp_directory_path()
               / ("cafcache-demo-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    caf::actor_system sys{cfg};
    rc = run(sys, dir.string());
    std::filesystem::remove_all(dir);
  }
  return rc;
}
