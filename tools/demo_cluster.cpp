// `cafcache-demo --cluster` (`make demo-cluster`): the story of `make demo`
// on a loopback Redis Cluster of 3 primaries and 3 replicas
// (cluster-node-timeout 1000 ms). The primary of one shard is killed with
// SIGKILL midway: the other shards keep answering from Redis, that shard's
// keys come from the fallback (stale) or miss, Redis Cluster promotes its
// replica, and the cache moves the shard to it, deleting every key of ours
// there first. Exits 1, with the reasons last, when the story did not run
// that way.
//
// The nodes run with cluster-require-full-coverage no, the setting for a
// cluster whose healthy shards should keep serving while one has no
// primary. With Redis' default (yes), every node refuses every key with
// CLUSTERDOWN from the moment the primary is marked failed until its
// replica takes over (about a second here), and the cache answers all
// shards from its fallback for that long.

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runtime/cluster_slots.hpp"
#include "tests/harness/redis_cluster.hpp"
#include "tools/demo.hpp"

namespace cafcache::demo {

namespace {

using namespace std::chrono_literals;

constexpr size_t primary_count = 3;

constexpr auto node_timeout = 1000ms;

constexpr size_t key_count = 50;

/// The flags (`master,fail?`) of the node on `port` in a `CLUSTER NODES`
/// reply: lines of `id ip:port@bus flags ...`; empty when not listed.
std::string flags_of(const std::string& nodes, uint16_t port) {
  auto needle = fmt::format(" 127.0.0.1:{}@", port);
  auto at = nodes.find(needle);
  if (at == std::string::npos)
    return {};
  auto from = nodes.find(' ', at + needle.size());
  if (from == std::string::npos)
    return {};
  auto to = nodes.find(' ', from + 1);
  return nodes.substr(from + 1, to == std::string::npos ? to : to - from - 1);
}

/// The keys whose slots one primary served at the start.
struct shard {
  /// The node that was the primary, and its replica.
  size_t primary = 0;
  size_t replica = 0;
  size_t keys = 0;
  /// Reads of the current phase.
  tally phase;
};

class cluster_story {
public:
  cluster_story(caf::actor_system& sys, redis_cluster& cl, cache_actor cache,
                clock_type::time_point start)
    : cl_(cl), s_(sys, std::move(cache), start) {
  }

  /// Runs the story; the problems found, empty when it ran as expected.
  std::vector<std::string> run(stats_report& final_stats);

private:
  // -- the story's parts ------------------------------------------------------

  /// Which node serves each key, and each primary's replica.
  bool map_shards();

  /// Reads every key but the held ones until `stop()` says so.
  template <class Stop>
  void reads(Stop stop);

  /// Prints the reads of the phase that just ended, shard by shard.
  void print_phase(const char* title);

  /// Writes a key of the killed shard, invalidates another and writes one
  /// of a healthy shard; holds the first two until `read_back`.
  void write_during_outage();

  /// Checks the reads from the kill until the takeover, `outage`.
  void check_outage(const std::vector<shard>& outage);

  /// Reads the held keys after the takeover and releases them.
  void read_back();

  /// Polls what Redis and the cache say (at most every 100 ms) and prints
  /// what changed.
  void watch();

  void check(bool ok, std::string problem) {
    if (!ok)
      problems_.push_back(std::move(problem));
  }

  std::string node_name(size_t i) {
    return fmt::format("node {} (127.0.0.1:{})", i, cl_.node(i).port());
  }

  std::string key(size_t i) const {
    return fmt::format("user:{}", i);
  }

  redis_cluster& cl_;
  scenario s_;
  std::vector<shard> shards_;
  /// For each key, the index of its shard.
  std::vector<size_t> shard_of_;
  /// Keys written during the outage, left alone until they are read back,
  /// and the one of them that was invalidated.
  std::set<std::string> held_;
  std::string invalidated_;
  std::optional<size_t> victim_;
  clock_type::time_point killed_at_;
  std::optional<clock_type::time_point> promoted_at_;
  /// What a surviving node said last about the cluster (CLUSTER INFO) and
  /// about the killed primary (its flags in CLUSTER NODES).
  std::string cluster_state_ = "ok";
  std::string victim_flags_;
  /// Every read of the story, and the gets outside of reads.
  tally all_;
  uint64_t single_gets_ = 0;
  clock_type::time_point next_watch_;
  health_report last_health_;
  bool health_seen_ = false;
  std::vector<std::string> problems_;
};

bool cluster_story::map_shards() {
  for (auto p : cl_.primaries()) {
    auto replica = cl_.replica_of(p);
    if (!replica) {
      problems_.push_back(fmt::format("{} has no replica", node_name(p)));
      return false;
    }
    shards_.push_back(shard{p, *replica, 0, {}});
  }
  for (size_t i = 0; i < key_count; ++i) {
    auto owner = cl_.owner_of(key_slot(key_prefix + key(i)));
    auto at = std::find_if(shards_.begin(), shards_.end(),
                           [&](auto& x) { return x.primary == owner; });
    if (at == shards_.end()) {
      problems_.push_back(
        fmt::format("{} serves {} but is no primary", node_name(owner), key(i)));
      return false;
    }
    ++at->keys;
    shard_of_.push_back(static_cast<size_t>(at - shards_.begin()));
  }
  for (auto& x : shards_)
    s_.say("shard of {}: {} of the {} keys; replica {} (pid {})",
           node_name(x.primary), x.keys, key_count, node_name(x.replica),
           cl_.node(x.replica).pid());
  return true;
}

template <class Stop>
void cluster_story::reads(Stop stop) {
  for (auto& x : shards_)
    x.phase = {};
  for (size_t i = 0; !stop(); i = (i + 1) % key_count) {
    auto k = key(i);
    if (held_.count(k) > 0)
      continue;
    auto& x = shards_[shard_of_[i]];
    auto result = s_.read(k);
    x.phase.add(result);
    all_.add(result);
    watch();
  }
}

void cluster_story::print_phase(const char* title) {
  s_.say("  phase {}:", title);
  for (size_t i = 0; i < shards_.size(); ++i) {
    auto& x = shards_[i];
    s_.say("    shard of node {}{}: {} hits from Redis, {} stale hits from "
           "the fallback, {} database loads, {} errors",
           x.primary, victim_ && *victim_ == i ? " (killed)" : "",
           x.phase.redis_hits, x.phase.stale_hits, x.phase.loads,
           x.phase.errors);
  }
}

void cluster_story::watch() {
  auto now = clock_type::now();
  if (now < next_watch_)
    return;
  next_watch_ = now + 100ms;
  if (victim_) {
    auto& x = shards_[*victim_];
    // One surviving primary's view of the cluster as a whole.
    auto other = shards_[(*victim_ + 1) % shards_.size()].primary;
    try {
      auto info = cl_.command(other, {"CLUSTER", "INFO"}).str;
      std::string state = info.find("cluster_state:ok") != std::string::npos
                            ? "ok"
                            : "fail";
      if (state != cluster_state_)
        s_.say("{} says cluster_state:{}{}", node_name(other), state,
               state == "fail" ? " (it refuses every key)" : "");
      cluster_state_ = std::move(state);
      auto flags = flags_of(cl_.command(other, {"CLUSTER", "NODES"}).str,
                            cl_.node(x.primary).port());
      if (flags != victim_flags_ && !flags.empty())
        s_.say("{} flags node {} {}{}, {:.2f} s after the kill",
               node_name(other), x.primary, flags,
               flags.find("fail?") != std::string::npos
                 ? " (it does not answer this node)"
               : flags.find("fail") != std::string::npos
                 ? " (a majority of primaries agree it failed: its replica "
                   "may take over)"
                 : "",
               scenario::seconds_since(killed_at_));
      victim_flags_ = std::move(flags);
    } catch (const std::runtime_error&) {
      // Asked again next time.
    }
    if (!promoted_at_) {
      try {
        auto role = cl_.command(x.replica, {"ROLE"});
        if (!role.elements.empty() && role.elements[0].str == "master") {
          promoted_at_ = clock_type::now();
          s_.say("{} says master: Redis Cluster promoted the replica, "
                 "{:.2f} s after the kill",
                 node_name(x.replica),
                 std::chrono::duration<double>(*promoted_at_ - killed_at_)
                   .count());
        }
      } catch (const std::runtime_error&) {
        // Asked again next time.
      }
    }
  }
  health_report h;
  if (!s_.call(health_atom::value, h))
    return;
  if (!health_seen_ || h.healthy != last_health_.healthy
      || h.breaker != last_health_.breaker)
    s_.say("cache: {}, breaker of the worst shard {}{}",
           h.healthy ? "healthy" : "not healthy", to_string(h.breaker),
           h.last_error.empty() ? std::string{}
                                : fmt::format(" ({})", h.last_error));
  health_seen_ = true;
  last_health_ = std::move(h);
}

void cluster_story::write_during_outage() {
  // The killed shard's writes go to its fallback, the others' to Redis.
  size_t other = 0;
  while (shard_of_[other] == *victim_)
    ++other;
  size_t same = 0;
  while (same == 7 || shard_of_[same] != *victim_)
    ++same;
  auto other_key = key(other);
  invalidated_ = key(same);
  write_result w;
  s_.call(put_atom::value, std::string{"user:7"},
          cache_value{codec_kind::raw, "profile-of-user:7 (edited)"},
          set_options{}, w);
  s_.say("set user:7 during the outage -> stored in the {} (dirty: no older "
         "value may be read once its shard has a primary again)",
         to_string(w.target));
  check(w.target == tier::fallback,
        fmt::format("set user:7 went to {}, not to the fallback",
                    to_string(w.target)));
  s_.call(delete_atom::value, invalidated_, request_options{}, w);
  s_.say("invalidate {} (same shard) during the outage -> {}", invalidated_,
         to_string(w.target));
  s_.call(put_atom::value, other_key,
          cache_value{codec_kind::raw, "profile-of-" + other_key},
          set_options{}, w);
  s_.say("set {} (shard of node {}) during the outage -> {}", other_key,
         shards_[shard_of_[other]].primary, to_string(w.target));
  check(w.target == tier::redis,
        fmt::format("set {} on a healthy shard went to {}, not to Redis",
                    other_key, to_string(w.target)));
  held_ = {"user:7", invalidated_};
}

void cluster_story::check_outage(const std::vector<shard>& outage) {
  auto& lost = outage[*victim_].phase;
  check(lost.stale_hits > 0 && lost.errors == 0,
        fmt::format("the killed shard's keys came {} times from the fallback "
                    "during the outage, with {} errors",
                    lost.stale_hits, lost.errors));
  for (size_t i = 0; i < outage.size(); ++i) {
    auto& x = outage[i];
    if (i != *victim_)
      check(x.phase.redis_hits > 0 && x.phase.stale_hits == 0
              && x.phase.errors == 0,
            fmt::format("the shard of node {} was not served from Redis "
                        "alone during the outage: {} hits from Redis, {} "
                        "stale, {} database loads, {} errors",
                        x.primary, x.phase.redis_hits, x.phase.stale_hits,
                        x.phase.loads, x.phase.errors));
  }
}

void cluster_story::read_back() {
  get_result edited;
  s_.call(get_atom::value, std::string{"user:7"}, request_options{}, edited);
  s_.say("get user:7 -> {}{}", edited.found ? edited.value.data : "miss",
         edited.found ? fmt::format(" from the {}", to_string(edited.source))
                      : std::string{" (the replica had the pre-outage value; "
                                    "the flush deleted it before any read)"});
  check(!(edited.found && edited.value.data == "profile-of-user:7"),
        "get user:7 after the takeover gave the value from before the "
        "acknowledged outage write");
  get_result gone;
  s_.call(get_atom::value, invalidated_, request_options{}, gone);
  s_.say("get {} -> {}", invalidated_, gone.found ? gone.value.data : "miss");
  check(!gone.found, fmt::format("{} came back after its invalidation",
                                 invalidated_));
  single_gets_ += 2;
  held_.clear();
}

std::vector<std::string> cluster_story::run(stats_report& final_stats) {
  if (!map_shards())
    return problems_;
  s_.say("cache spawned on {}; {} user profiles, database answers in 5 ms",
         cl_.url(), key_count);
  auto warm_until = clock_type::now() + 1500ms;
  reads([&] { return clock_type::now() >= warm_until; });
  print_phase("before the kill");
  // The victim is the primary of user:7, the key the outage writes.
  victim_ = shard_of_[7];
  auto& v = shards_[*victim_];
  s_.say("kill -9 {} (pid {}), the primary of user:7's shard",
         node_name(v.primary), cl_.node(v.primary).pid());
  cl_.node(v.primary).kill();
  killed_at_ = clock_type::now();
  victim_flags_ = "master";
  auto outage_until = clock_type::now() + 1200ms;
  reads([&] { return clock_type::now() >= outage_until; });
  print_phase("first 1.2 s after the kill");
  auto outage = shards_;
  write_during_outage();
  // Until the cache reads the killed shard from Redis again: from its new
  // primary, the promoted replica.
  auto limit = killed_at_ + 15s;
  reads([&] {
    return v.phase.redis_hits > 0 || clock_type::now() >= limit;
  });
  print_phase("from the writes until the takeover");
  auto took_over = v.phase.redis_hits > 0;
  if (took_over)
    s_.say("the cache reads the shard of node {} from {} now, {:.2f} s after "
           "the kill",
           v.primary, node_name(v.replica),
           scenario::seconds_since(killed_at_));
  for (size_t i = 0; i < shards_.size(); ++i)
    outage[i].phase.add(shards_[i].phase);
  check(promoted_at_.has_value(),
        fmt::format("Redis did not promote {} within 15 s of the kill",
                    node_name(v.replica)));
  check(took_over, fmt::format("the cache did not read the shard of node {} "
                               "from Redis within 15 s of the kill",
                               v.primary));
  check_outage(outage);
  auto healthy_by = clock_type::now() + 5s;
  while (clock_type::now() < healthy_by && !last_health_.healthy) {
    next_watch_ = {};
    watch();
    std::this_thread::sleep_for(20ms);
  }
  check(last_health_.healthy, "the cache did not report healthy after the "
                              "takeover");
  stats_report mid;
  s_.call(stats_atom::value, mid);
  s_.say("moved over: {} slots flushed on the new primary (our keys in them "
         "deleted before it was read: {} keys)",
         mid.slots_flushed, mid.replayed_keys);
  read_back();
  auto after_until = clock_type::now() + 1500ms;
  reads([&] { return clock_type::now() >= after_until; });
  print_phase("after the takeover");
  for (auto& x : shards_)
    check(x.phase.redis_hits > 0 && x.phase.stale_hits == 0
            && x.phase.errors == 0,
          fmt::format("after the takeover the shard of node {} had {} hits "
                      "from Redis, {} stale, {} errors",
                      x.primary, x.phase.redis_hits, x.phase.stale_hits,
                      x.phase.errors));
  s_.call(stats_atom::value, final_stats);
  s_.say("done: {} database loads in total", s_.total_loads());
  // The cache's counters against what the demo saw itself.
  auto gets = all_.reads() + single_gets_;
  if (final_stats.gets != gets || final_stats.hits_fallback != all_.stale_hits)
    s_.say("note: the demo sent {} gets and had {} stale hits; the cache's "
           "counters say {} and {}",
           gets, all_.stale_hits, final_stats.gets, final_stats.hits_fallback);
  return problems_;
}

} // namespace

int run_cluster(caf::actor_system& sys) {
  auto start = clock_type::now();
  std::unique_ptr<redis_cluster> cl;
  try {
    cl = std::make_unique<redis_cluster>(primary_count, 1, node_timeout);
    for (size_t i = 0; i < cl->size(); ++i)
      if (auto r = cl->command(i, {"CONFIG", "SET",
                                   "cluster-require-full-coverage", "no"});
          r.is_error())
        throw std::runtime_error(
          fmt::format("node {} refused CONFIG SET: {}", i, r.str));
  } catch (const std::exception& e) {
    fmt::print(stderr, "cannot start the Redis Cluster: {}\n", e.what());
    return 1;
  }
  fmt::print("[{:6.2f}s] Redis Cluster of {} primaries and {} replicas "
             "started (cluster-node-timeout {} ms, "
             "cluster-require-full-coverage no: a shard without a primary "
             "leaves the others serving)\n",
             scenario::seconds_since(start), primary_count, primary_count,
             node_timeout.count());
  std::fflush(stdout);
  auto cfg = settings(cl->url());
  auto cache = spawn_cache(sys, cfg);
  if (!cache) {
    fmt::print(stderr, "cannot start the cache: {}\n",
               to_sentence(cache.error()));
    return 1;
  }
  stats_report stats;
  std::vector<std::string> problems;
  {
    cluster_story story{sys, *cl, *cache, start};
    try {
      problems = story.run(stats);
    } catch (const std::exception& e) {
      problems.push_back(fmt::format("the story stopped: {}", e.what()));
    }
  }
  print_counters(stats);
  stop_cache(sys, *cache);
  std::vector<std::string> stopped;
  for (size_t i = 0; i < cl->size(); ++i) {
    if (auto pid = cl->node(i).pid(); pid > 0) {
      cl->node(i).kill();
      stopped.push_back(fmt::format("{}", pid));
    }
  }
  cl.reset();
  fmt::print("stopped the cache and {} redis-server nodes (pids {})\n",
             stopped.size(), fmt::join(stopped, ", "));
  if (problems.empty()) {
    fmt::print("the cluster story ran as expected\n");
    return 0;
  }
  for (auto& x : problems)
    fmt::print("FAILED: {}\n", x);
  return 1;
}

} // namespace cafcache::demo
