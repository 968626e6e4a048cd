// cafcache-chaos: mixed load against a real redis-server, or a Redis
// Cluster, while it is killed, stopped and restarted, with every answer
// checked.
//
//   build/tools/cafcache-chaos                       # 60 s, make chaos
//   build/tools/cafcache-chaos --chaos.duration=15s  # the form make test runs
//   build/tools/cafcache-chaos --chaos.cluster       # 3 primaries + 3 replicas
//
// The faults, at fixed fractions of the duration, are in
// tools/chaos_faults.hpp. A second node on the same Redis only reads
// (`--chaos.readers`); on a single Redis it stops before the older-dataset
// fault.
// Checks: every request answered, none later than deadline + 50 ms, no
// error, no read older than an acknowledged write or invalidate of the same
// key (versioned values) on the writing node, no unmarked read on the second
// node older than a write acknowledged with `target == redis`, the fallback
// within its bounds, RSS flat at the end (the last 40 % of the run adds at
// most 10 % + 4 MB), and healthy again after the last fault. Exits 0 when
// every check holds.

#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <unistd.h>

#include <caf/all.hpp>
#include <fmt/format.h>
#include <caf/io/all.hpp>

#include "cafcache.hpp"
#include "tests/harness/fast_config.hpp"
#include "tests/harness/process_memory.hpp"
#include "tests/harness/redis_process.hpp"
#include "tests/harness/version_ledger.hpp"
#include "tools/chaos_faults.hpp"

using namespace cafcache;
using namespace cafcache::chaos;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// A requester -> itself: send the next request.
using step_atom = caf::atom_constant<caf::atom("step")>;

struct chaos_config : system_config {
  caf::timespan duration = 60s;
  uint32_t requesters = 50;
  uint32_t readers = 10;
  uint32_t keys = 1000;
  caf::timespan deadline = 200ms;
  uint32_t value_bytes = 100;
  uint64_t late_allowed = 0;
  bool no_faults = false;
  bool skip_rss = false;
  bool cluster = false;

  chaos_config() {
    load<caf::io::middleman>();
    opt_group{custom_options_, "chaos"}
      .add(duration, "duration", "length of the run")
      .add(requesters, "requesters", "requests in flight (one per actor)")
      .add(readers, "readers",
           "requests in flight on the second, read-only node")
      .add(keys, "keys", "distinct keys (each written by one requester)")
      .add(deadline, "deadline", "deadline of every request")
      .add(value_bytes, "value-bytes", "value size in bytes")
      .add(late_allowed, "late-allowed",
           "answers later than deadline + 50 ms that still pass")
      .add(no_faults, "no-faults", "the same load without faults")
      .add(skip_rss, "skip-rss",
           "do not check RSS (runs too short for memory to level off)")
      .add(cluster, "cluster",
           "run on a Redis Cluster of 3 primaries and 3 replicas");
  }
};

/// What the requesters saw; shared across scheduler threads.
struct tally {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> late{0};
  std::atomic<int64_t> worst_us{0};
  std::atomic<uint64_t> fallback_hits{0};
  std::atomic<uint64_t> stale_reads{0};
  std::atomic<uint64_t> foreign_values{0};
  /// Second node: unmarked reads older than a write Redis acknowledged
  /// (a failure), and stale-marked ones older than that (allowed).
  std::atomic<uint64_t> peer_reads{0};
  std::atomic<uint64_t> peer_unmarked_older{0};
  std::atomic<uint64_t> peer_marked_older{0};
  /// While only single connections of the pool are killed: writes the
  /// fallback took although other connections were up.
  std::atomic<bool> partial_phase{false};
  std::atomic<uint64_t> partial_writes{0};
  std::atomic<uint64_t> partial_to_fallback{0};
  /// Errors by cafcache code (0: not a cafcache error).
  std::array<std::atomic<uint64_t>, 32> errors{};

  uint64_t error_total() const {
    uint64_t n = 0;
    for (auto& x : errors)
      n += x.load();
    return n;
  }
};

struct run_context {
  cache_actor cache;
  version_ledger* ledger;
  /// Only the writes answered with `target == redis`: what other nodes
  /// must see.
  version_ledger* redis_ledger;
  tally* out;
  caf::timespan deadline;
  /// The requesters' own CAF timeout: 1 s, or 5 deadlines when longer. An
  /// answer later than that is a timeout error. Kept short on purpose: CAF
  /// 0.17 holds every request timeout in its clock until it fires, answered
  /// or not, so a 10 s timeout alone held ~60 MB at this load.
  caf::timespan patience;
  uint32_t keys;
  uint32_t requesters;
  uint32_t value_bytes;
  steady::time_point until;
};

std::string key_name(size_t k) {
  return "k" + std::to_string(k);
}

void requester(caf::event_based_actor* self, run_context ctx, uint32_t id) {
  auto rng = std::make_shared<std::mt19937_64>(id * 7919 + 1);
  auto step = std::make_shared<std::function<void()>>();
  // The loop refers to itself; break the cycle once the actor is gone.
  self->attach_functor([step] { *step = nullptr; });
  *step = [=] {
    if (steady::now() >= ctx.until) {
      self->quit();
      return;
    }
    auto roll = (*rng)() % 100;
    auto start = steady::now();
    auto finish = [=](const caf::error* err) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  steady::now() - start)
                  .count();
      ++ctx.out->answered;
      if (err != nullptr)
        ++ctx.out->errors[code_of(*err) % 32];
      auto limit = std::chrono::duration_cast<std::chrono::microseconds>(
                     ctx.deadline + 50ms)
                     .count();
      if (us > limit)
        ++ctx.out->late;
      auto worst = ctx.out->worst_us.load();
      while (us > worst && !ctx.out->worst_us.compare_exchange_weak(worst, us))
        ;
      (*step)();
    };
    ++ctx.out->sent;
    if (roll < 70) {
      // Any key: reads check what other requesters wrote, too.
      auto k = (*rng)() % ctx.keys;
      auto floor = ctx.ledger->floor(k);
      request_options opts;
      opts.deadline = ctx.deadline;
      self->request(ctx.cache, ctx.patience, get_atom::value, key_name(k), opts)
        .then(
          [=](get_result& r) {
            std::optional<uint64_t> version;
            if (r.found) {
              version = version_ledger::version_of(r.value.data);
              if (!version)
                ++ctx.out->foreign_values;
              if (r.source == tier::fallback)
                ++ctx.out->fallback_hits;
            }
            if (!version_ledger::read_ok(version, floor))
              ++ctx.out->stale_reads;
            finish(nullptr);
          },
          [=](caf::error& err) { finish(&err); });
      return;
    }
    // Own keys only: one write at a time per key.
    auto owned = (ctx.keys - id + ctx.requesters - 1) / ctx.requesters;
    auto k = id + ((*rng)() % std::max<uint32_t>(owned, 1)) * ctx.requesters;
    if (k >= ctx.keys)
      k = id;
    auto version = ctx.ledger->next_version();
    auto acked = [=](write_result& r) {
      ctx.ledger->acknowledge(k, version);
      if (ctx.out->partial_phase) {
        ++ctx.out->partial_writes;
        if (r.target != tier::redis)
          ++ctx.out->partial_to_fallback;
      }
      if (r.target == tier::redis)
        ctx.redis_ledger->acknowledge(k, version);
      finish(nullptr);
    };
    auto failed = [=](caf::error& err) {
      // A write answered with an error may or may not have happened; the
      // cache deleted the key in Redis for it (redis_error) or it timed out.
      finish(&err);
    };
    if (roll < 90) {
      set_options opts;
      opts.deadline = ctx.deadline;
      self->request(ctx.cache, ctx.patience, put_atom::value, key_name(k),
                    cache_value{codec_kind::raw,
                                version_ledger::value_of(version,
                                                         ctx.value_bytes)},
                    opts)
        .then(acked, failed);
    } else {
      request_options opts;
      opts.deadline = ctx.deadline;
      self->request(ctx.cache, ctx.patience, delete_atom::value, key_name(k), opts)
        .then(acked, failed);
    }
  };
  (*step)();
}

/// The second node: reads only, each checked against the writes Redis
/// acknowledged before it was sent; one read per millisecond and reader, as
/// an application that also does other work would (in this process, readers
/// that spin on the fallback during an outage take the CPU the writing node
/// needs for its deadlines).
caf::behavior reader(caf::event_based_actor* self, run_context ctx,
                     uint32_t id) {
  auto rng = std::make_shared<std::mt19937_64>(id * 104729 + 3);
  auto step = std::make_shared<std::function<void()>>();
  self->attach_functor([step] { *step = nullptr; });
  *step = [=] {
    if (steady::now() >= ctx.until) {
      self->quit();
      return;
    }
    auto k = (*rng)() % ctx.keys;
    auto floor = ctx.redis_ledger->floor(k);
    auto next = [=] { self->delayed_send(self, 1ms, step_atom::value); };
    request_options opts;
    opts.deadline = ctx.deadline;
    ++ctx.out->peer_reads;
    self->request(ctx.cache, ctx.patience, get_atom::value, key_name(k), opts)
      .then(
        [=](get_result& r) {
          std::optional<uint64_t> version;
          if (r.found)
            version = version_ledger::version_of(r.value.data);
          if (!version_ledger::read_ok(version, floor)) {
            auto n = ++(r.stale ? ctx.out->peer_marked_older
                                : ctx.out->peer_unmarked_older);
            if (!r.stale && n <= 3)
              fmt::print("(second node: {} read version {} from {}, {} was "
                         "acknowledged by Redis before)\n",
                         key_name(k), *version, to_string(r.source), floor);
          }
          next();
        },
        [=](caf::error&) { next(); });
  };
  (*step)();
  return {[=](step_atom) { (*step)(); }};
}

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

stats_report stats_of(caf::actor_system& sys, const cache_actor& cache) {
  caf::scoped_actor self{sys};
  stats_report out;
  self->request(cache, 5s, stats_atom::value)
    .receive([&](stats_report& r) { out = std::move(r); },
             [&](caf::error&) {});
  return out;
}

} // namespace

void caf_main(caf::actor_system& sys, const chaos_config& opts) {
  auto dir = std::filesystem::temp_directory_path()
             / ("cafcache-chaos-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::unique_ptr<redis_process> redis;
  std::unique_ptr<redis_cluster> cl;
  if (opts.cluster)
    cl = std::make_unique<redis_cluster>();
  else
    redis = std::make_unique<redis_process>(std::vector<std::string>{
      "--dir", dir.string(), "--appendonly", "yes", "--appendfsync",
      "always"});
  auto cfg = fast_config(cl ? cl->url() : redis->url());
  // A cluster's node caches follow failovers through the fetches they ask
  // for; the default spacing (1 s) is long against this run's faults.
  cfg.cluster_refresh_spacing = 200ms;
  cfg.key_prefix = "chaos:";
  cfg.request_timeout = opts.deadline;
  cfg.fallback_max_entries = opts.keys / 2;
  cfg.fallback_max_bytes = (opts.keys / 2) * (opts.value_bytes + 8) / 2;
  auto cache = spawn_cache(sys, cfg);
  if (!cache) {
    std::fprintf(stderr, "cafcache-chaos: %s\n",
                 to_sentence(cache.error()).c_str());
    std::filesystem::remove_all(dir);
    std::exit(1);
  }
  // The second node: same Redis and prefix, its own connections and
  // fallback.
  auto peer = spawn_cache(sys, cfg);
  if (!peer) {
    std::fprintf(stderr, "cafcache-chaos: %s\n",
                 to_sentence(peer.error()).c_str());
    std::filesystem::remove_all(dir);
    std::exit(1);
  }
  version_ledger ledger{opts.keys};
  version_ledger redis_ledger{opts.keys};
  tally out;
  auto t0 = steady::now();
  caf::timespan patience = std::max<caf::timespan>(1s, 5 * opts.deadline);
  run_context ctx{*cache,          &ledger,   &redis_ledger, &out,
                  opts.deadline,   patience,  opts.keys,
                  opts.requesters, opts.value_bytes, t0 + opts.duration};
  // The second node stops before the older-dataset fault: only the node
  // that wrote knows which of its writes such a Redis lost.
  auto peer_ctx = ctx;
  peer_ctx.cache = *peer;
  peer_ctx.until = t0 + opts.duration * 86 / 100;
  if (opts.no_faults || opts.cluster)
    peer_ctx.until = ctx.until;
  std::printf("cafcache-chaos: %u requesters, %u keys, %" PRId64
              " ms deadline, %.0f s\n",
              opts.requesters, opts.keys,
              static_cast<int64_t>(opts.deadline.count() / 1000000),
              std::chrono::duration<double>(opts.duration).count());
  std::fflush(stdout);
  {
    caf::scoped_actor self{sys};
    for (uint32_t i = 0; i < opts.requesters; ++i)
      self->monitor(sys.spawn(requester, ctx, i));
    for (uint32_t i = 0; i < opts.readers; ++i)
      self->monitor(sys.spawn(reader, peer_ctx, i));
    fault_context faults{&sys, *cache, opts.duration, &out.partial_phase};
    auto plan = cl ? cluster_faults(*cl, faults)
                   : redis_faults(*redis, dir, faults);
    if (opts.no_faults)
      plan.clear();
    uint64_t rss_warm = 0;
    size_t next = 0;
    auto last_progress = t0;
    while (steady::now() < ctx.until) {
      auto frac = seconds_since(t0)
                  / std::chrono::duration<double>(opts.duration).count();
      // Memory grows while caches and buffers fill, then levels off: the
      // last 40 % of the run must not add more than 10 %.
      if (rss_warm == 0 && frac >= 0.6)
        rss_warm = rss_bytes();
      if (next < plan.size() && frac >= plan[next].at) {
        std::printf("[%5.1fs] %s\n", seconds_since(t0), plan[next].what);
        std::fflush(stdout);
        plan[next].act();
        std::printf("[%5.1fs] %s\n", seconds_since(t0),
                    cl ? "fault over" : "redis-server back");
        std::fflush(stdout);
        ++next;
      }
      if (steady::now() - last_progress >= opts.duration / 12) {
        last_progress = steady::now();
        fmt::print("[{:5.1f}s] {} answered, {} from the fallback, {} late, "
                   "{} errors, {} stale reads, {} unmarked older reads on "
                   "the second node, RSS {} MB (heap in use {} MB)\n",
                   seconds_since(t0), out.answered.load(),
                   out.fallback_hits.load(), out.late.load(),
                   out.error_total(), out.stale_reads.load(),
                   out.peer_unmarked_older.load(), rss_bytes() >> 20,
                   heap_in_use_bytes() >> 20);
        std::fflush(stdout);
      }
      std::this_thread::sleep_for(10ms);
    }
    for (uint32_t i = 0; i < opts.requesters + opts.readers; ++i)
      self->receive([](const caf::down_msg&) {});
    auto healthy = wait_healthy(sys, *cache, 10s);
    auto stats = stats_of(sys, *cache);
    auto rss_end = rss_bytes();
    // Checks.
    int failures = 0;
    auto check = [&](bool ok, const std::string& what) {
      std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
      if (!ok)
        ++failures;
    };
    std::printf("--\n");
    check(out.sent == out.answered,
          std::to_string(out.answered.load()) + " of "
            + std::to_string(out.sent.load()) + " requests answered");
    check(out.late <= opts.late_allowed,
          std::to_string(out.late.load())
            + " answers later than deadline + 50 ms (worst "
            + std::to_string(out.worst_us.load() / 1000) + " ms)");
    std::string by_code;
    for (size_t c = 0; c < out.errors.size(); ++c)
      if (out.errors[c] > 0)
        by_code += " " + std::string{c == 0 ? "other"
                                            : to_string(static_cast<errc>(c))}
                   + "=" + std::to_string(out.errors[c].load());
    check(out.error_total() == 0,
          std::to_string(out.error_total()) + " errors" + by_code);
    check(out.stale_reads == 0 && out.foreign_values == 0,
          std::to_string(out.stale_reads.load())
            + " reads older than an acknowledged write or invalidate, "
            + std::to_string(out.foreign_values.load()) + " foreign values");
    check(out.peer_unmarked_older == 0,
          std::to_string(out.peer_unmarked_older.load())
            + " unmarked reads on the second node older than a write Redis "
              "acknowledged (of "
            + std::to_string(out.peer_reads.load()) + "; "
            + std::to_string(out.peer_marked_older.load())
            + " older ones marked stale)");
    // A write that runs out of time in Redis is answered by the fallback by
    // design; under a sanitizer's slowdown a few do even here. A dropped
    // connection opening the breaker sent nearly all of them there.
    check(out.partial_to_fallback * 100 <= out.partial_writes,
          std::to_string(out.partial_to_fallback.load()) + " of "
            + std::to_string(out.partial_writes.load())
            + " writes answered by the fallback while single pool "
              "connections were killed (at most 1 %: those that ran out of "
              "time)");
    check(stats.fallback_entries <= cfg.fallback_max_entries
            && stats.fallback_bytes <= cfg.fallback_max_bytes,
          "fallback " + std::to_string(stats.fallback_entries) + " entries / "
            + std::to_string(stats.fallback_bytes) + " bytes within "
            + std::to_string(cfg.fallback_max_entries) + " / "
            + std::to_string(cfg.fallback_max_bytes));
    auto mb = [](uint64_t x) { return std::to_string(x / (1024 * 1024)); };
    auto rss_line = "RSS " + mb(rss_warm) + " MB at 60 % of the run, "
                    + mb(rss_end) + " MB at the end (heap in use "
                    + mb(heap_in_use_bytes()) + " MB)";
    if (opts.skip_rss)
      std::printf("--   %s (not checked)\n", rss_line.c_str());
    else
      check(rss_end <= rss_warm + rss_warm / 10 + (4u << 20), rss_line);
    check(healthy, "healthy again after the last fault");
    std::printf("(%" PRIu64 " fallback hits, %" PRIu64 " breaker openings, %"
                PRIu64 " replayed keys, %" PRIu64 " namespace flushes)\n",
                out.fallback_hits.load(), stats.breaker_opened,
                stats.replayed_keys, stats.namespace_flushes);
    std::fflush(stdout);
    std::printf("(%" PRIu64 " dataset changes)\n", stats.dataset_changes);
    stop_cache(sys, *cache);
    stop_cache(sys, *peer);
    redis.reset();
    cl.reset();
    std::filesystem::remove_all(dir);
    if (failures > 0)
      std::exit(1);
  }
}

CAF_MAIN()
