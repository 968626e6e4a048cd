// cafcache-node's HTTP endpoints and logs, from the outside: /metrics and
// /health scraped over real HTTP from a node on free ports with a real
// redis-server, exact counter deltas for known operations, /health following
// a killed and restarted Redis, one log line per transition, correlation ids
// in the log and no password anywhere; the metric families of a report. Every
// process is stopped by its pid.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/metrics.hpp"
#include "tests/support.hpp"
#include "tests/harness/node_process.hpp"
#include "tools/remote_cache.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

/// Bound on anything a test waits for; hitting it fails the test.
constexpr auto patience = std::chrono::seconds(20);

struct http_response {
  int status = 0;
  std::string body;
};

/// GET `path` from 127.0.0.1:`port` over a plain socket; status 0 when the
/// server cannot be reached or sends no status line.
http_response http_get(uint16_t port, const std::string& path) {
  http_response out;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval limit{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return out;
  }
  auto request = "GET " + path
                 + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::write(fd, request.data(), request.size())
      != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return out;
  }
  std::string raw;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0)
    return out;
  out.status = std::atoi(raw.c_str() + 9);
  auto end = raw.find("\r\n\r\n");
  if (end != std::string::npos)
    out.body = raw.substr(end + 4);
  return out;
}

/// The value of one series (`name` or `name{labels}`) in Prometheus text;
/// fails the test when it is missing.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, series.size() + 1, series + " ") == 0)
      return std::stod(line.substr(series.size() + 1));
  FAIL("no series " << series << " in /metrics");
  return 0;
}

/// Scrapes /metrics; fails the test unless it answers 200.
std::string scrape(uint16_t port) {
  auto r = http_get(port, "/metrics");
  REQUIRE(r.status == 200);
  return r.body;
}

/// Polls /health until it answers `status`; false when `patience` passed.
bool health_becomes(uint16_t port, int status, http_response& last) {
  auto until = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < until) {
    last = http_get(port, "/health");
    if (last.status == status)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

/// A temporary directory with a wrapper that runs cafcache-node with its
/// stderr appended to a file (exec keeps the pid). Removed at the end.
class logged_node {
public:
  logged_node() {
    char tmpl[] = "/tmp/cafcache-log-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    std::ofstream script{wrapper()};
    script << "#!/bin/sh\nexec '" << CAFCACHE_NODE << "' \"$@\" 2>>'"
           << log_path() << "'\n";
    script.close();
    ::chmod(wrapper().c_str(), 0700);
  }

  ~logged_node() {
    std::filesystem::remove_all(dir_);
  }

  std::string wrapper() const {
    return dir_ + "/node.sh";
  }

  std::string log_path() const {
    return dir_ + "/stderr.log";
  }

  std::string log() const {
    std::ifstream in{log_path()};
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  /// Lines of the log with `event=<name>` (every event here has fields
  /// after its name).
  size_t count(const std::string& name) const {
    std::istringstream in{log()};
    std::string line;
    size_t n = 0;
    while (std::getline(in, line))
      if (line.find(" event=" + name + " ") != std::string::npos)
        ++n;
    return n;
  }

private:
  std::string dir_;
};

/// Options for a node whose breaker and reconnects act within a second.
std::vector<std::string> fast_args(const redis_process& redis,
                                   uint16_t metrics_port,
                                   const std::string& userinfo = "") {
  return {"--cafcache.redis-url=" + redis.url(userinfo),
          "--cafcache.key-prefix=metrics:",
          "--cafcache.metrics-port=" + std::to_string(metrics_port),
          "--cafcache.reconnect-min=50ms",
          "--cafcache.reconnect-max=300ms",
          "--cafcache.breaker-reset-timeout=300ms",
          "--cafcache.breaker-max-reset-timeout=1s",
          "--cafcache.probe-timeout=300ms",
          "--cafcache.max-half-open=1s"};
}

run_result cli(const node_process& node, std::vector<std::string> args) {
  std::vector<std::string> argv{CAFCACHE_CLI, "--node=" + node.address(),
                                "--timeout=3s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, patience);
}

double transitions(const std::string& metrics) {
  return sample(metrics, R"(cafcache_breaker_transitions_total{state="open"})")
         + sample(metrics,
                  R"(cafcache_breaker_transitions_total{state="half-open"})")
         + sample(metrics,
                  R"(cafcache_breaker_transitions_total{state="closed"})");
}

} // namespace

TEST_CASE("/metrics counts known operations exactly; /health follows Redis") {
  redis_process redis;
  logged_node files;
  auto metrics_port = free_port();
  node_process node{files.wrapper(), fast_args(redis, metrics_port)};
  CHECK(node.banner().at(1) == "cafcache-node metrics on http://127.0.0.1:"
                                 + std::to_string(metrics_port)
                                 + "/metrics and /health");
  auto health = http_get(metrics_port, "/health");
  REQUIRE(health.status == 200);
  auto json = nlohmann::json::parse(health.body);
  CHECK(json["healthy"] == true);
  CHECK(json["connected"] == true);
  CHECK(json["breaker"] == "closed");
  CHECK(json["stats"].contains("hit_rate"));
  auto before = scrape(metrics_port);
  CHECK(sample(before, "cafcache_up") == 1);
  CHECK(sample(before, "cafcache_healthy") == 1);
  CHECK(sample(before, R"(cafcache_breaker_state{state="closed"})") == 1);
  for (auto key : {"a", "b", "c"})
    REQUIRE(cli(node, {"set", key, "value"}).out == "redis\n");
  CHECK(cli(node, {"get", "a"}).status == 0);
  CHECK(cli(node, {"get", "b"}).status == 0);
  CHECK(cli(node, {"get", "nothing"}).status == 1);
  CHECK(cli(node, {"get", std::string(2000, 'k')}).status == 2);
  auto after = scrape(metrics_port);
  auto delta = [&](const std::string& series) {
    return sample(after, series) - sample(before, series);
  };
  CHECK(delta(R"(cafcache_requests_total{operation="set",outcome="redis"})")
        == 3);
  CHECK(delta(R"(cafcache_requests_total{operation="get",outcome="hit"})")
        == 2);
  CHECK(delta(R"(cafcache_requests_total{operation="get",outcome="miss"})")
        == 1);
  CHECK(delta(R"(cafcache_requests_total{operation="get",outcome="error"})")
        == 1);
  CHECK(delta(R"(cafcache_errors_total{kind="key_too_large"})") == 1);
  CHECK(delta(R"(cafcache_hits_total{tier="redis"})") == 2);
  CHECK(delta(R"(cafcache_hits_total{tier="fallback"})") == 0);
  CHECK(delta("cafcache_misses_total") == 1);
  CHECK(delta("cafcache_stale_served_total") == 0);
  CHECK(delta(R"(cafcache_request_duration_seconds_count{operation="set"})")
        == 3);
  // The refused get never started: it has no latency.
  CHECK(delta(R"(cafcache_request_duration_seconds_count{operation="get"})")
        == 3);
  // 3 SET, 3 PUBLISH behind them, 3 GET: every command leaves in some batch;
  // 6 of them have replies the cache waits for.
  CHECK(delta("cafcache_pipeline_batch_size_sum") == 9);
  CHECK(delta("cafcache_redis_roundtrip_seconds_count") == 6);
  // The three values, mirrored by their sets and again by the two hits.
  CHECK(sample(after, "cafcache_fallback_entries") == 3);
  CHECK(sample(after, "cafcache_dirty_keys") == 0);

  redis.kill();
  REQUIRE(health_becomes(metrics_port, 503, health));
  json = nlohmann::json::parse(health.body);
  CHECK(json["healthy"] == false);
  // Requests during the outage are served from the fallback and add no
  // transition or connection lines to the log.
  for (int i = 0; i < 10; ++i)
    CHECK(cli(node, {"get", "a"}).status == 0);
  auto down = scrape(metrics_port);
  CHECK(sample(down, "cafcache_healthy") == 0);
  CHECK(sample(down, R"(cafcache_hits_total{tier="fallback"})") >= 1);
  CHECK(sample(down, "cafcache_stale_served_total") >= 1);

  redis.restart();
  REQUIRE(health_becomes(metrics_port, 200, health));
  json = nlohmann::json::parse(health.body);
  CHECK(json["healthy"] == true);
  CHECK(json["breaker"] == "closed");
  auto up = scrape(metrics_port);
  CHECK(sample(up, "cafcache_healthy") == 1);
  CHECK(sample(up, "cafcache_reconnects_total") >= 2);
  CHECK(sample(up, R"(cafcache_breaker_state{state="closed"})") == 1);
  // One line per transition and per lost or regained pool connection.
  CHECK(files.count("breaker") == transitions(up));
  CHECK(files.count("connection_lost") == 2);
  CHECK(files.count("reconnected") == sample(up, "cafcache_reconnects_total"));
  CHECK(files.count("replay") >= 1);
  node.process().signal(SIGTERM);
  CHECK(node.process().wait(patience) == 0);
}

TEST_CASE("logs carry correlation ids; no password in logs, /health or "
          "/metrics") {
  const std::string password = "s3cr3t-pw-4711";
  redis_process redis{{"--requirepass", password}};
  logged_node files;
  auto metrics_port = free_port();
  auto args = fast_args(redis, metrics_port, ":" + password);
  args.push_back("--cafcache.log-level=debug");
  node_process node{files.wrapper(), args};
  node_config cfg;
  caf::actor_system sys{cfg};
  auto cache = connect_cache(sys, node_address{"127.0.0.1", node.port()},
                             false, 5s);
  REQUIRE_MESSAGE(cache, why(cache));
  client api{sys, *cache};
  set_options put;
  put.correlation_id = "req-set-1";
  REQUIRE(api.set("k", "v", put));
  request_options get;
  get.correlation_id = "req-get 2";
  REQUIRE(api.get("k", get));
  redis.kill();
  http_response health;
  REQUIRE(health_becomes(metrics_port, 503, health));
  auto metrics = scrape(metrics_port);
  redis.restart();
  REQUIRE(health_becomes(metrics_port, 200, health));
  auto log = files.log();
  CHECK(log.find("event=request op=set outcome=redis") != std::string::npos);
  CHECK(log.find("correlation_id=req-set-1") != std::string::npos);
  CHECK(log.find("correlation_id=\"req-get 2\"") != std::string::npos);
  CHECK(log.find("event=connection_lost") != std::string::npos);
  CHECK(log.find("level=") == 0);
  CHECK(health.body.find("redis://") != std::string::npos);
  for (auto& text : {log, health.body, metrics})
    CHECK(text.find(password) == std::string::npos);
  node.process().signal(SIGTERM);
  CHECK(node.process().wait(patience) == 0);
}

TEST_CASE("cafcache-cli metrics prints the node's counters as Prometheus "
          "text") {
  redis_process redis;
  // No HTTP port: the cli asks over CAF, like its other commands.
  node_process node{CAFCACHE_NODE, fast_args(redis, 0)};
  for (auto key : {"a", "b", "c"})
    REQUIRE(cli(node, {"set", key, "value"}).out == "redis\n");
  CHECK(cli(node, {"get", "a"}).status == 0);
  CHECK(cli(node, {"get", "b"}).status == 0);
  CHECK(cli(node, {"get", "nothing"}).status == 1);
  auto metrics = cli(node, {"metrics"});
  CHECK_MESSAGE(metrics.status == 0, metrics.err);
  auto has_line = [](const run_result& r, const std::string& line) {
    return ("\n" + r.out).find("\n" + line + "\n") != std::string::npos;
  };
  const std::vector<std::string> expected{
    "# TYPE cafcache_requests_total counter",
    "cafcache_up 1",
    R"(cafcache_requests_total{operation="set",outcome="redis"} 3)",
    R"(cafcache_requests_total{operation="get",outcome="hit"} 2)",
    R"(cafcache_requests_total{operation="get",outcome="miss"} 1)",
    R"(cafcache_hits_total{tier="redis"} 2)",
    "cafcache_misses_total 1",
    R"(cafcache_request_duration_seconds_count{operation="set"} 3)",
  };
  for (auto& line : expected)
    CHECK_MESSAGE(has_line(metrics, line), line);
  // Asking for a snapshot is not a request: the second one counts the same.
  auto again = cli(node, {"metrics"});
  CHECK(has_line(again, expected[3]));
  CHECK(cli(node, {"metrics", "extra"}).status == 64);
  node.process().signal(SIGTERM);
  CHECK(node.process().wait(patience) == 0);
}

TEST_CASE("metric families: cumulative buckets, every name prefixed") {
  metrics_report report;
  report.stats.hits_redis = 5;
  report.breaker = breaker_state::open;
  report.requests.assign(metric_op_count * metric_outcome_count, 0);
  report.requests[static_cast<size_t>(metric_op::set) * metric_outcome_count
                  + static_cast<size_t>(metric_outcome::fallback)]
    = 7;
  report.batch_sizes.record(1, batch_bounds);
  report.batch_sizes.record(3, batch_bounds);
  report.batch_sizes.record(5000, batch_bounds);
  auto families = to_families(report);
  for (auto& f : families)
    CHECK(f.name.compare(0, 9, "cafcache_") == 0);
  auto find = [&](const std::string& name) -> const prometheus::MetricFamily& {
    for (auto& f : families)
      if (f.name == name)
        return f;
    FAIL("no family " << name);
    return families.front();
  };
  auto& batches = find("cafcache_pipeline_batch_size");
  REQUIRE(batches.metric.size() == 1);
  auto& h = batches.metric.front().histogram;
  CHECK(h.sample_count == 3);
  CHECK(h.sample_sum == 5004);
  CHECK(h.bucket.at(0).cumulative_count == 1); // le 1
  CHECK(h.bucket.at(2).cumulative_count == 2); // le 4
  CHECK(h.bucket.back().cumulative_count == 3); // +Inf
  auto& breaker = find("cafcache_breaker_state");
  for (auto& m : breaker.metric)
    CHECK(m.gauge.value == (m.label.at(0).value == "open" ? 1 : 0));
  bool seen = false;
  for (auto& m : find("cafcache_requests_total").metric)
    if (m.label.at(0).value == "set" && m.label.at(1).value == "fallback") {
      CHECK(m.counter.value == 7);
      seen = true;
    }
  CHECK(seen);
}

TEST_CASE("metric families: a Redis Cluster's primaries, one series each") {
  metrics_report report;
  auto families = to_families(report);
  for (auto& f : families)
    CHECK(f.name.rfind("cafcache_cluster_node_", 0) == std::string::npos);
  report.nodes.push_back({"10.0.0.1:7000", 16000, true, true,
                          breaker_state::closed, "", 12, 0});
  report.nodes.push_back({"10.0.0.2:7000", 384, false, false,
                          breaker_state::open, "", 3, 9});
  families = to_families(report);
  auto value = [&](const std::string& name, const std::string& node,
                   const std::string& state = {}) {
    for (auto& f : families)
      if (f.name == name)
        for (auto& m : f.metric)
          if (m.label.at(0).value == node
              && (state.empty() || m.label.at(1).value == state))
            return m.gauge.value;
    FAIL("no " << name << " of " << node);
    return -1.0;
  };
  CHECK(value("cafcache_cluster_node_slots", "10.0.0.1:7000") == 16000);
  CHECK(value("cafcache_cluster_node_slots", "10.0.0.2:7000") == 384);
  CHECK(value("cafcache_cluster_node_healthy", "10.0.0.1:7000") == 1);
  CHECK(value("cafcache_cluster_node_healthy", "10.0.0.2:7000") == 0);
  CHECK(value("cafcache_cluster_node_connected", "10.0.0.2:7000") == 0);
  CHECK(value("cafcache_cluster_node_dirty_keys", "10.0.0.2:7000") == 9);
  CHECK(value("cafcache_cluster_node_fallback_entries", "10.0.0.1:7000")
        == 12);
  CHECK(value("cafcache_cluster_node_breaker_state", "10.0.0.2:7000", "open")
        == 1);
  CHECK(value("cafcache_cluster_node_breaker_state", "10.0.0.2:7000",
              "closed")
        == 0);
}

TEST_CASE("per-request warnings are rate-limited; the held-back lines are "
          "counted in the next one") {
  logged_node files;
  node_process node{files.wrapper(), {"--cafcache.log-burst=5"}};
  node_config cfg;
  caf::actor_system sys{cfg};
  auto cache = connect_cache(sys, node_address{"127.0.0.1", node.port()},
                             false, 5s);
  REQUIRE_MESSAGE(cache, why(cache));
  client api{sys, *cache};
  // 200 refused requests (empty key) in a burst, then one more a window
  // later.
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i)
    CHECK_FALSE(api.get(""));
  auto burst = std::chrono::steady_clock::now() - t0;
  std::this_thread::sleep_for(1100ms);
  CHECK_FALSE(api.get(""));
  node.process().signal(SIGTERM);
  CHECK(node.process().wait(patience) == 0);
  auto lines = files.count("request_refused");
  uint64_t suppressed = 0;
  std::istringstream in{files.log()};
  std::string line;
  while (std::getline(in, line)) {
    auto at = line.find(" suppressed=");
    if (line.find(" event=request_refused ") != std::string::npos
        && at != std::string::npos)
      suppressed += std::stoull(line.substr(at + 12));
  }
  MESSAGE(lines << " lines, " << suppressed << " counted as suppressed, burst "
                << std::chrono::duration_cast<std::chrono::milliseconds>(burst)
                       .count()
                << " ms");
  // At most 5 lines per started second of the burst, plus the late one.
  auto windows = std::chrono::duration_cast<std::chrono::seconds>(burst).count()
                 + 1;
  CHECK(lines <= static_cast<size_t>(5 * windows + 1));
  CHECK(lines >= 6);
  // No request goes uncounted.
  CHECK(lines + suppressed == 201);
}
