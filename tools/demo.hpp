#pragma once

// What both stories of cafcache-demo share: the slow "database", the client
// that drives the cache and prints the timeline, and the cluster story's
// entry point (tools/demo_cluster.cpp).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>

#include <caf/all.hpp>
#include <fmt/format.h>

#include "cafcache.hpp"

namespace cafcache::demo {

using clock_type = std::chrono::steady_clock;

using database_actor = caf::typed_actor<
  caf::replies_to<get_atom, std::string>::with<std::string>>;

/// The slow system of record the cache sits in front of.
inline database_actor::behavior_type database(database_actor::pointer) {
  using namespace std::chrono_literals;
  return {
    [](get_atom, const std::string& key) {
      std::this_thread::sleep_for(5ms);
      return "profile-of-" + key;
    },
  };
}

/// How one cache-aside read ended.
enum class outcome {
  /// Redis had the value.
  redis,
  /// The fallback had it (Redis could not answer): possibly stale.
  stale,
  /// A miss: the database was asked and the value written back.
  loaded,
  /// The cache answered with an error.
  error,
};

/// The outcomes of the reads of one phase.
struct tally {
  uint64_t redis_hits = 0;
  uint64_t stale_hits = 0;
  uint64_t loads = 0;
  uint64_t errors = 0;

  /// Counts one read.
  void add(outcome x) {
    switch (x) {
      case outcome::redis:
        ++redis_hits;
        break;
      case outcome::stale:
        ++stale_hits;
        break;
      case outcome::loaded:
        ++loads;
        break;
      case outcome::error:
        ++errors;
        break;
    }
  }

  /// Adds the reads of `x`.
  void add(const tally& x) {
    redis_hits += x.redis_hits;
    stale_hits += x.stale_hits;
    loads += x.loads;
    errors += x.errors;
  }

  /// Every read counted.
  uint64_t reads() const {
    return redis_hits + stale_hits + loads + errors;
  }
};

/// A client of the cache with blocking calls, and the timeline it prints.
class scenario {
public:
  /// `start` is the zero of the timeline.
  scenario(caf::actor_system& sys, cache_actor cache,
           clock_type::time_point start = clock_type::now())
    : self_(sys),
      cache_(std::move(cache)),
      db_(sys.spawn<caf::detached>(database)),
      start_(start) {
  }

  ~scenario() {
    self_->send_exit(db_, caf::exit_reason::user_shutdown);
  }

  scenario(const scenario&) = delete;
  scenario& operator=(const scenario&) = delete;

  /// Prints one timeline line.
  template <class... Ts>
  void say(fmt::format_string<Ts...> text, Ts&&... xs) {
    fmt::print("[{:6.2f}s] {}\n", seconds_since(start_),
               fmt::format(text, std::forward<Ts>(xs)...));
    std::fflush(stdout);
  }

  /// Seconds from `t` until now.
  static double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
  }

  /// One cache-aside read of `key`: a get, and on a miss a database load
  /// written back with a set.
  outcome read(const std::string& key) {
    get_result r;
    if (!call(get_atom::value, key, request_options{}, r))
      return outcome::error;
    if (r.found)
      return r.source == tier::redis ? outcome::redis : outcome::stale;
    auto value = load(key);
    ++total_loads_;
    write_result w;
    if (!call(put_atom::value, key, cache_value{codec_kind::raw, value},
              set_options{}, w))
      return outcome::error;
    return outcome::loaded;
  }

  /// Cache-aside reads of 50 user profiles for `duration`.
  void workload(caf::timespan duration) {
    auto until = clock_type::now() + duration;
    tally t;
    for (int i = 0; clock_type::now() < until; ++i) {
      t.add(read(fmt::format("user:{}", i % 50)));
      watch();
    }
    say("  phase: {} hits from Redis, {} stale hits from the fallback, "
        "{} database loads, {} errors",
        t.redis_hits, t.stale_hits, t.loads, t.errors);
  }

  /// Prints a line whenever the route or the connection changes.
  void watch() {
    using namespace std::chrono_literals;
    auto now = clock_type::now();
    if (now < next_watch_)
      return;
    next_watch_ = now + 50ms;
    health_report h;
    if (!call(health_atom::value, h))
      return;
    if (h.breaker != last_.breaker || h.connected != last_.connected)
      say("breaker {}, Redis {}", to_string(h.breaker),
          h.connected ? "connected" : "unreachable");
    last_ = h;
  }

  /// Waits until the cache reports itself healthy again.
  bool wait_healthy(caf::timespan limit) {
    using namespace std::chrono_literals;
    auto until = clock_type::now() + limit;
    while (clock_type::now() < until) {
      next_watch_ = {};
      watch();
      if (last_.healthy)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  /// The last health report `watch` got.
  const health_report& last_health() const {
    return last_;
  }

  template <class Result, class... Ts>
  bool call_into(Result& out, Ts... xs) {
    using namespace std::chrono_literals;
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

  /// Asks the database; empty when it does not answer.
  std::string load(const std::string& key) {
    using namespace std::chrono_literals;
    std::string out;
    self_->request(db_, 5s, get_atom::value, key)
      .receive([&](std::string& v) { out = std::move(v); },
               [&](caf::error&) {});
    return out;
  }

  /// Database loads since the start.
  uint64_t total_loads() const {
    return total_loads_;
  }

private:
  caf::scoped_actor self_;
  cache_actor cache_;
  database_actor db_;
  clock_type::time_point start_;
  clock_type::time_point next_watch_;
  health_report last_;
  uint64_t total_loads_ = 0;
};

/// Where the demo's keys live in Redis.
inline constexpr const char* key_prefix = "demo:";

/// The cache's settings in both stories: keys under `key_prefix`, and periods
/// shortened so that the demo takes seconds (production defaults are 30 s).
inline config settings(std::string redis_url) {
  using namespace std::chrono_literals;
  config cfg;
  cfg.redis_url = std::move(redis_url);
  cfg.key_prefix = key_prefix;
  cfg.breaker_reset_timeout = 1s;
  cfg.breaker_max_reset_timeout = 4s;
  cfg.request_timeout = 200ms;
  cfg.reconnect_min = 100ms;
  cfg.reconnect_max = 500ms;
  return cfg;
}

/// The final counters of both stories.
inline void print_counters(const stats_report& stats) {
  fmt::print("\nfinal counters\n"
             "  gets {}, sets {}, invalidations {}\n"
             "  hits from Redis {}, hits from the fallback {}, misses {}\n"
             "  errors {}, Redis failures {}, degraded writes {}\n"
             "  breaker opened {}, half-opened {}, closed {}, reconnects {}\n"
             "  keys replayed {}, latency p50 {} us, p99 {} us\n",
             stats.gets, stats.sets, stats.invalidations, stats.hits_redis,
             stats.hits_fallback, stats.misses, stats.errors,
             stats.redis_failures, stats.degraded_writes, stats.breaker_opened,
             stats.breaker_half_opened, stats.breaker_closed, stats.reconnects,
             stats.replayed_keys, stats.latency_p50_us, stats.latency_p99_us);
}

/// `cafcache-demo --cluster`: the same story on a loopback Redis Cluster
/// whose primary of one shard is killed and replaced by its replica.
/// Returns the exit code: 0 when the story ran as expected, 1 otherwise
/// (the lines saying why come last).
int run_cluster(caf::actor_system& sys);

} // namespace cafcache::demo
