#include "tools/chaos_faults.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <caf/scoped_actor.hpp>

namespace cafcache::chaos {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

bool wait_healthy(caf::actor_system& sys, const cache_actor& cache,
                  caf::timespan limit) {
  caf::scoped_actor self{sys};
  auto until = steady::now() + limit;
  while (steady::now() < until) {
    bool healthy = false;
    self->request(cache, 5s, health_atom::value)
      .receive([&](health_report& r) { healthy = r.healthy; },
               [&](caf::error&) {});
    if (healthy)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

namespace {

/// Kills the request connections of `redis` one at a time, every 150 ms,
/// for a twentieth of the run, starting from a healthy cache (so that every
/// write has a connection to go to).
void kill_pool_connections(const redis_process& redis, fault_context ctx) {
  wait_healthy(*ctx.sys, ctx.cache, 5s);
  auto until = steady::now() + ctx.duration / 20;
  size_t round = 0;
  *ctx.partial_phase = true;
  while (steady::now() < until) {
    auto ids = request_client_ids(redis);
    if (!ids.empty())
      redis.command({"CLIENT", "KILL", "ID", ids[round++ % ids.size()]});
    std::this_thread::sleep_for(150ms);
  }
  *ctx.partial_phase = false;
}

} // namespace

std::vector<fault> redis_faults(redis_process& redis,
                                const std::filesystem::path& dir,
                                fault_context ctx) {
  auto stop_time = std::min<caf::timespan>(2s, ctx.duration / 10);
  auto down_time = ctx.duration / 15;
  auto stop = [&redis, stop_time] {
    redis.pause();
    std::this_thread::sleep_for(stop_time);
    redis.resume();
  };
  auto restart = [&redis, down_time] {
    redis.kill();
    std::this_thread::sleep_for(down_time);
    redis.restart();
  };
  auto empty_restart = [&redis, dir, ctx] {
    redis.kill();
    // The dataset is gone: Redis comes back empty.
    std::filesystem::remove_all(dir / "appendonlydir");
    std::filesystem::remove(dir / "dump.rdb");
    std::this_thread::sleep_for(ctx.duration / 40);
    redis.restart();
  };
  auto older = dir / "older";
  auto snapshot = [dir, older] {
    std::filesystem::remove_all(older);
    std::filesystem::copy(dir / "appendonlydir", older,
                          std::filesystem::copy_options::recursive);
  };
  auto older_restart = [&redis, dir, older] {
    // What appendfsync everysec, an RDB snapshot or a promoted replica
    // give after a crash: the writes since the copy are gone.
    redis.kill();
    std::filesystem::remove_all(dir / "appendonlydir");
    std::filesystem::copy(older, dir / "appendonlydir",
                          std::filesystem::copy_options::recursive);
    redis.restart();
  };
  return {
    {0.10, "kill -9, restart with its data", restart},
    {0.25, "SIGSTOP", stop},
    {0.35, "kill -9, restart with its data", restart},
    {0.50, "SIGSTOP", stop},
    {0.60, "kill -9, restart with its data", restart},
    {0.75, "kill -9, restart empty", empty_restart},
    {0.80, "one pool connection killed every 150 ms",
     [&redis, ctx] { kill_pool_connections(redis, ctx); }},
    {0.87, "copy of the data taken", snapshot},
    {0.90, "kill -9, restart from the older copy", older_restart},
  };
}

std::vector<fault> cluster_faults(redis_cluster& cl, fault_context ctx) {
  auto stop_time = std::min<caf::timespan>(2s, ctx.duration / 10);
  auto down_time = ctx.duration / 15;
  // Each fault starts from a whole cluster, on the n-th primary of now.
  auto primary = [&cl](size_t n) {
    try {
      cl.wait_healthy(std::chrono::seconds(20));
    } catch (const std::runtime_error& e) {
      std::printf("(the cluster is not healthy: %s)\n", e.what());
    }
    auto all = cl.primaries();
    std::sort(all.begin(), all.end());
    if (all.empty())
      throw std::runtime_error("no primary answers");
    return all[n % all.size()];
  };
  return {
    {0.10, "CLUSTER FAILOVER to a primary's replica",
     [&cl, primary] {
       if (auto replica = cl.replica_of(primary(0)))
         cl.failover(*replica);
     }},
    {0.25, "SIGSTOP of a primary (longer than the node timeout)",
     [&cl, primary, stop_time] {
       auto& node = cl.node(primary(1));
       node.pause();
       std::this_thread::sleep_for(stop_time);
       node.resume();
     }},
    {0.40, "kill -9 of a primary, restarted empty (it rejoins as a replica)",
     [&cl, primary, down_time] {
       auto& node = cl.node(primary(2));
       node.kill();
       std::this_thread::sleep_for(down_time);
       node.restart();
     }},
    {0.60, "one pool connection of a primary killed every 150 ms",
     [&cl, primary, ctx] {
       kill_pool_connections(cl.node(primary(0)), ctx);
     }},
    {0.75, "kill -9 of a primary and its replica, both restarted empty",
     [&cl, primary, down_time] {
       auto victim = primary(1);
       auto replica = cl.replica_of(victim);
       cl.node(victim).kill();
       if (replica)
         cl.node(*replica).kill();
       std::this_thread::sleep_for(down_time);
       cl.node(victim).restart();
       if (replica)
         cl.node(*replica).restart();
     }},
  };
}

} // namespace cafcache::chaos
