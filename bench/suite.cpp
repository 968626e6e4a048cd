// The scenario suite of `make bench` (see bench/suite.hpp).

#include "bench/suite.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/config.hpp"

namespace cafcache {

namespace {

/// Runs this binary again with `args` (each scenario in a fresh process, so
/// scheduler settings can differ) and parses its JSON report.
nlohmann::json child(const std::string& self_exe, const std::string& args) {
  auto cmd = self_exe + " --bench.json " + args + " 2>/dev/null";
  auto pipe = ::popen(cmd.c_str(), "r");
  std::string text;
  char buf[4096];
  while (pipe != nullptr && std::fgets(buf, sizeof(buf), pipe) != nullptr)
    text += buf;
  if (pipe != nullptr)
    ::pclose(pipe);
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json{{"error", text}} : parsed;
}

/// Runs among `runs` in which the fallback answered gets (under `who`): a
/// figure meant to measure Redis that the breaker turned into one of the
/// fallback. Printed beside the scenario, so that it is never read as
/// Redis'.
size_t fallback_runs(const std::vector<nlohmann::json>& runs,
                     const char* who) {
  return static_cast<size_t>(
    std::count_if(runs.begin(), runs.end(), [who](const nlohmann::json& r) {
      return r.contains(who) && r[who].contains("get")
             && r[who]["get"].value("from_fallback", uint64_t{0}) > 0;
    }));
}

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

double number(const nlohmann::json& j, const std::vector<const char*>& path) {
  const nlohmann::json* at = &j;
  for (auto key : path) {
    if (!at->is_object() || !at->contains(key))
      return 0;
    at = &(*at)[key];
  }
  return at->is_number() ? at->get<double>() : 0;
}

/// Mixed-workload throughput of redis-benchmark from its separate GET and SET
/// runs: the time for a 90/10 mix is the weighted sum of the per-op times.
double mixed_rate(double get_rate, double set_rate, double read_ratio) {
  if (get_rate <= 0 || set_rate <= 0)
    return 0;
  return 1.0 / (read_ratio / get_rate + (1.0 - read_ratio) / set_rate);
}

struct scenario {
  std::string name;
  std::string args;
  /// Value the target compares (cafcache side / baseline side).
  std::function<std::pair<double, double>(const std::vector<nlohmann::json>&)>
    measure;

  std::string target;
  double goal;
  bool lower_is_better;
};

/// A scenario run with cafcache (`--bench.mode=redis`, or `mine`) and with
/// the bare baseline (`--bench.mode=bare`, or `theirs`), alternating in the
/// same suite run; the ratio is cafcache / bare and the goal 1.0 (none for
/// a scenario that is only reported).
struct versus_bare {
  std::string name;
  std::string args;
  /// Where the compared figure sits under "cafcache" or "bare".
  std::vector<const char*> figure;
  std::string target;
  bool lower_is_better;
  std::string mine = "redis";
  std::string theirs = "bare";
  bool has_goal = true;
};

} // namespace

void run_suite(const bench_config& cfg, const std::string& self_exe) {
  auto duration = fmt::format(
    " --bench.duration={}ms",
    std::chrono::duration_cast<std::chrono::milliseconds>(cfg.duration)
      .count());
  const std::string low_latency
    = "--work-stealing.aggressive-poll-attempts=100000";
  auto ops = [](const nlohmann::json& j) {
    return number(j, {"cafcache", "ops_per_s"});
  };
  auto rb = [](const nlohmann::json& j, const char* test, const char* field) {
    return number(j, {"redis_benchmark", test, field});
  };
  // Medians of one figure of cafcache and one of the baseline over the runs.
  using measure_fn
    = std::function<std::pair<double, double>(const std::vector<nlohmann::json>&)>;
  auto medians = [](std::function<double(const nlohmann::json&)> mine,
                    std::function<double(const nlohmann::json&)> base)
    -> measure_fn {
    return [=](const std::vector<nlohmann::json>& runs) {
      std::vector<double> a, b;
      for (auto& r : runs) {
        a.push_back(mine(r));
        b.push_back(base ? base(r) : 0.0);
      }
      return std::make_pair(median(a), median(b));
    };
  };
  auto at = [](std::vector<const char*> p) {
    return [p](const nlohmann::json& j) { return number(j, p); };
  };
  auto get_p50 = medians(at({"cafcache", "get", "p50_us"}),
                         at({"redis_benchmark", "GET", "p50_us"}));
  auto get_rate = medians(ops, at({"redis_benchmark", "GET", "ops_per_s"}));
  std::vector<scenario> scenarios{
    {"get_1", "--bench.requesters=1 --bench.baseline", get_p50,
     "p50 vs redis-benchmark -c 1 (default scheduler)", 1.5, true},
    {"get_1_low_latency", "--bench.requesters=1 --bench.baseline " + low_latency,
     get_p50, "p50 vs redis-benchmark -c 1 (low-latency profile)", 1.0, true},
    {"get_10", "--bench.requesters=10 --bench.baseline", get_rate,
     "GET/s vs redis-benchmark -c 10", 0, false},
    {"get_50", "--bench.requesters=50 --bench.baseline", get_rate,
     "GET/s vs redis-benchmark -c 50", 0, false},
    {"get_200",
     "--bench.requesters=200 --bench.baseline --bench.pipeline=16 "
     "--bench.baseline-clients=50",
     get_rate, "GET/s (200 in flight) vs redis-benchmark -c 50 -P 16", 0,
     false},
    {"mix_50", "--bench.requesters=50 --bench.read-ratio=0.9 --bench.baseline",
     medians(ops,
             [&](const nlohmann::json& r) {
               return mixed_rate(rb(r, "GET", "ops_per_s"),
                                 rb(r, "SET", "ops_per_s"), 0.9);
             }),
     "90/10 ops/s vs redis-benchmark -c 50, same mix", 0, false},
    {"null_50", "--bench.requesters=50 --bench.mode=null", medians(ops, {}),
     "messaging ceiling (no Redis, same hops)", 0, false},
    {"down_50", "--bench.requesters=50 --bench.mode=down", medians(ops, {}),
     "fallback only (Redis down) vs the null ceiling", 0.7, false},
    {"stampede_1000", "--bench.mode=stampede --bench.requesters=1000",
     medians(at({"stampede", "loader_calls_get_or_load"}),
             at({"stampede", "loader_calls_get_then_set"})),
     "loader calls, 1000 cold misses: get_or_load vs get-then-set", 0, true},
    {"memory_1m", "--bench.mode=memory --bench.keys=1000000",
     medians(at({"memory", "overhead_per_entry"}),
             [](const nlohmann::json&) { return 96.0; }),
     "fallback bytes per entry beyond key + value (limit 96)", 1.0, true},
  };
  nlohmann::json results = nlohmann::json::object();
  double null_ceiling = 0;
  for (auto& sc : scenarios) {
    std::vector<nlohmann::json> runs;
    auto reps = sc.name == "memory_1m" ? 1u : cfg.repetitions;
    for (uint32_t i = 0; i < reps; ++i) {
      std::fprintf(stderr, "%s run %u/%u\n", sc.name.c_str(), i + 1, reps);
      runs.push_back(child(self_exe, sc.args + duration));
    }
    auto [mine, base] = sc.measure(runs);
    if (sc.name == "null_50")
      null_ceiling = mine;
    if (sc.name == "down_50")
      base = null_ceiling;
    double ratio = base > 0 ? mine / base : 0;
    bool met = sc.goal <= 0 || (sc.lower_is_better ? ratio <= sc.goal
                                                   : ratio >= sc.goal);
    results[sc.name] = {{"what", sc.target},
                        {"cafcache", mine},
                        {"baseline", base},
                        {"ratio", ratio},
                        {"goal", sc.goal},
                        {"met", met},
                        {"runs", runs}};
    std::printf("%-18s %-55s cafcache %10.1f  baseline %10.1f  ratio %5.2f  "
                "goal %s%.1f  %s\n",
                sc.name.c_str(), sc.target.c_str(), mine, base, ratio,
                sc.lower_is_better ? "<=" : ">=", sc.goal,
                sc.goal <= 0 ? "" : (met ? "met" : "MISSED"));
    if (auto n = fallback_runs(runs, "cafcache"); n > 0 && sc.name != "down_50")
      fmt::print("{:<18} warning: the fallback answered gets in {} of {} "
                 "runs\n",
                 sc.name, n, runs.size());
    std::fflush(stdout);
  }
  // Realistic settings: cafcache's default key prefix (keys beyond the
  // small-string buffer) and msgpack records that cafcache validates.
  auto realistic = fmt::format("--bench.key-prefix={} --bench.codec=msgpack ",
                               config{}.key_prefix);
  std::vector<versus_bare> versus{
    {"bare_get_50", realistic + "--bench.requesters=50",
     {"ops_per_s"}, "GET/s, 50 in flight, vs bare", false},
    {"bare_get_200", realistic + "--bench.requesters=200",
     {"ops_per_s"}, "GET/s, 200 in flight, vs bare", false},
    {"bare_mix_50", realistic + "--bench.requesters=50 --bench.read-ratio=0.9",
     {"ops_per_s"}, "90/10 ops/s, 50 in flight, vs bare", false},
    {"bare_get_1", realistic + "--bench.requesters=1",
     {"get", "p50_us"}, "GET p50, 1 in flight, vs bare", true},
    // From a second process over CAF's network layer; reported, no goal.
    {"remote_get_50", realistic + "--bench.requesters=50",
     {"ops_per_s"}, "remote GET/s, 50 in flight, vs bare published", false,
     "remote", "remote-bare", false},
    {"remote_guard_50", realistic + "--bench.requesters=50",
     {"ops_per_s"}, "remote GET/s, peer guard vs middleman alone", false,
     "remote", "remote-unguarded", false},
  };
  for (auto& sc : versus) {
    std::vector<nlohmann::json> mine_runs, bare_runs;
    for (uint32_t i = 0; i < cfg.repetitions; ++i) {
      fmt::print(stderr, "{} run {}/{}\n", sc.name, i + 1, cfg.repetitions);
      mine_runs.push_back(
        child(self_exe, sc.args + " --bench.mode=" + sc.mine + duration));
      bare_runs.push_back(
        child(self_exe, sc.args + " --bench.mode=" + sc.theirs + duration));
    }
    auto median_of = [](const std::vector<nlohmann::json>& runs,
                        const char* who, std::vector<const char*> path) {
      path.insert(path.begin(), who);
      std::vector<double> xs;
      for (auto& r : runs)
        xs.push_back(number(r, path));
      return median(xs);
    };
    // A mode reports under "bare" only when it drives the bare actor.
    auto theirs = sc.theirs.find("bare") != std::string::npos ? "bare"
                                                              : "cafcache";
    auto mine = median_of(mine_runs, "cafcache", sc.figure);
    auto base = median_of(bare_runs, theirs, sc.figure);
    double ratio = base > 0 ? mine / base : 0;
    bool met = !sc.has_goal
               || (sc.lower_is_better ? ratio <= 1.0 : ratio >= 1.0);
    results[sc.name] = {{"what", sc.target},
                        {"cafcache", mine},
                        {"baseline", base},
                        {"ratio", ratio},
                        {"goal", sc.has_goal ? 1.0 : 0.0},
                        {"met", met},
                        {"runs", mine_runs},
                        {"bare_runs", bare_runs}};
    if (sc.mine == "remote")
      results[sc.name]["server_cpu_us_per_op"]
        = {{"cafcache",
            median_of(mine_runs, "cafcache", {"server_cpu_us_per_op"})},
           {"baseline",
            median_of(bare_runs, theirs, {"server_cpu_us_per_op"})}};
    auto goal = !sc.has_goal ? std::string{}
                : fmt::format("goal {}1.0  {}", sc.lower_is_better ? "<=" : ">=",
                              met ? "met" : "MISSED");
    fmt::print("{:<18} {:<55} cafcache {:>10.1f}  {:<8} {:>10.1f}  ratio "
               "{:>5.2f}  {}\n",
               sc.name, sc.target, mine, sc.theirs, base, ratio, goal);
    if (auto n = fallback_runs(mine_runs, "cafcache"); n > 0)
      fmt::print("{:<18} warning: the fallback answered gets in {} of {} "
                 "runs\n",
                 sc.name, n, mine_runs.size());
    if (sc.name == "bare_get_50") {
      // CPU per GET from the same runs: this process, and redis-server.
      auto cpu = median_of(mine_runs, "cafcache", {"cpu_us_per_op"});
      auto bare_cpu = median_of(bare_runs, "bare", {"cpu_us_per_op"});
      results["cpu_per_get_50"]
        = {{"what", "us of process CPU per GET, 50 in flight, vs bare"},
           {"cafcache", cpu},
           {"baseline", bare_cpu},
           {"ratio", bare_cpu > 0 ? cpu / bare_cpu : 0},
           {"goal", 0},
           {"met", true},
           {"redis_server_cafcache",
            median_of(mine_runs, "cafcache", {"redis_cpu_us_per_op"})},
           {"redis_server_bare",
            median_of(bare_runs, "bare", {"redis_cpu_us_per_op"})}};
      fmt::print("{:<18} {:<55} cafcache {:>10.1f}  bare     {:>10.1f}  "
                 "ratio {:>5.2f}\n",
                 "cpu_per_get_50", "us of process CPU per GET, vs bare", cpu,
                 bare_cpu, bare_cpu > 0 ? cpu / bare_cpu : 0);
    }
    std::fflush(stdout);
  }
  std::ofstream{cfg.out} << results.dump(2) << "\n";
  // Throughput and latency against requests in flight, for the plot.
  std::ofstream dat{cfg.out.substr(0, cfg.out.rfind('.')) + ".dat"};
  dat << "# in_flight cafcache_ops redis_benchmark_ops cafcache_p50_us "
         "redis_benchmark_p50_us\n";
  for (auto [name, n] : {std::pair{"get_1", 1}, std::pair{"get_10", 10},
                         std::pair{"get_50", 50}, std::pair{"get_200", 200}}) {
    auto& runs = results[name]["runs"];
    std::vector<double> a, b, c, d;
    for (auto& r : runs) {
      a.push_back(ops(r));
      b.push_back(rb(r, "GET", "ops_per_s"));
      c.push_back(number(r, {"cafcache", "get", "p50_us"}));
      d.push_back(rb(r, "GET", "p50_us"));
    }
    dat << n << ' ' << median(a) << ' ' << median(b) << ' ' << median(c)
        << ' ' << median(d) << '\n';
  }
}

} // namespace cafcache
