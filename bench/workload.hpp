#pragma once

// How the benchmark loads a cache: closed-loop requesters, the values they
// write, and what a run measures (throughput, latency, CPU, allocations).

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "bench/bare.hpp"
#include "bench/bench_config.hpp"
#include "cafcache.hpp"
#include "runtime/latency_histogram.hpp"

namespace cafcache {

using bench_clock = std::chrono::steady_clock;

/// Per-requester results; only its own actor writes them while running.
struct requester_stats {
  std::atomic<uint64_t> done{0};
  uint64_t errors = 0;
  uint64_t hits = 0;
  /// Gets the fallback answered: in a run that measures Redis, any is a
  /// sign that Redis was not what answered (the breaker opened).
  uint64_t from_fallback = 0;
  latency_histogram get_latency;
  latency_histogram set_latency;
};

/// One request in flight at a time, GET or SET by `read_ratio`, until
/// `until`. `Cache` is cache_actor or bare_actor: both take the same messages.
template <class Cache>
void requester(caf::event_based_actor* self, Cache cache, requester_stats* out,
               uint32_t keys, cache_value value, double read_ratio,
               bench_clock::time_point until, uint64_t seed) {
  auto rng = std::make_shared<std::mt19937_64>(seed);
  auto step = std::make_shared<std::function<void()>>();
  // The loop refers to itself; break the cycle once the actor is gone.
  self->attach_functor([step] { *step = nullptr; });
  *step = [=] {
    if (bench_clock::now() >= until) {
      self->quit();
      return;
    }
    auto key = "key:" + std::to_string((*rng)() % keys);
    bool read = std::uniform_real_distribution<double>{0, 1}(*rng) < read_ratio;
    auto start = bench_clock::now();
    auto finish = [=](bool ok, bool was_read) {
      auto took = bench_clock::now() - start;
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
            out->from_fallback += r.source == tier::fallback ? 1 : 0;
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

/// The value every SET writes: `value_bytes` of 'v' as raw bytes, or a
/// profile of at most `value_bytes` with the msgpack codec.
cache_value bench_value(const bench_config& cfg);

/// Returns once `cache` (or `bare`) has taken every earlier message of
/// `self`.
void round_trip(caf::scoped_actor& self, const cache_actor& cache);
void round_trip(caf::scoped_actor& self, const bare_actor& bare);

/// malloc calls so far, when bench/alloc_counter.c is preloaded.
std::optional<uint64_t> allocations();

/// User + system CPU time this process used so far.
std::chrono::microseconds own_cpu();

/// User + system CPU time of process `pid` so far (clock-tick resolution),
/// zero when it cannot be read.
std::chrono::microseconds cpu_of(pid_t pid);

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
  uint64_t from_fallback = 0;
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

/// Runs `cfg.requesters` closed-loop requesters against `cache` for
/// `cfg.duration` and measures them (with the CPU of `redis_pid` when given).
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
  auto redis_before = redis_pid > 0 ? cpu_of(redis_pid) : std::chrono::microseconds{0};
  auto start = bench_clock::now();
  auto until = start + cfg.duration;
  caf::scoped_actor self{sys};
  for (uint32_t i = 0; i < cfg.requesters; ++i)
    self->monitor(sys.spawn(requester<Cache>, cache, stats[i].get(),
                            cfg.keys, value, cfg.read_ratio, until,
                            uint64_t{i} * 7919 + 1));
  uint64_t last = 0;
  while (bench_clock::now() < until) {
    std::this_thread::sleep_for(std::min<bench_clock::duration>(
      std::chrono::seconds{1}, until - bench_clock::now()));
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
  auto elapsed = std::chrono::duration<double>(bench_clock::now() - start);
  auto cpu = own_cpu() - cpu_before;
  auto allocs_after = allocations();
  auto redis_cpu = redis_pid > 0 ? cpu_of(redis_pid) - redis_before : std::chrono::microseconds{0};
  latency_histogram gets, sets;
  run_result out;
  for (auto& s : stats) {
    out.ops += s->done.load();
    out.errors += s->errors;
    out.hits += s->hits;
    out.from_fallback += s->from_fallback;
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

} // namespace cafcache
