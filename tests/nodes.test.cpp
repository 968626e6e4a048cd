// cafcache-node and cafcache-cli as separate processes on loopback: two nodes
// on one redis-server, a node killed with SIGKILL, SIGTERM with one request
// and with 200 remote requests in flight, TLS with the right and the wrong
// CA, the memory-only node, and coherence: an invalidate on one node reaches
// the other's fallback.
// Every process is started on a free port and stopped by its pid.

#include <doctest/doctest.h>

#include <signal.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/cluster_slots.hpp"
#include "tests/support.hpp"
#include "tests/harness/node_process.hpp"
#include "tests/harness/redis_cluster.hpp"
#include "tools/remote_cache.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

/// Bound on anything a test waits for; hitting it fails the test.
constexpr auto patience = std::chrono::seconds(20);

/// Runs cafcache-cli against `node` with `args`.
run_result cli(const std::string& node, std::vector<std::string> args) {
  std::vector<std::string> argv{CAFCACHE_CLI, "--node=" + node,
                                "--timeout=3s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, patience);
}

std::vector<std::string> redis_args(const redis_process& redis) {
  return {"--cafcache.redis-url=" + redis.url(),
          "--cafcache.key-prefix=nodes:"};
}

/// A temporary directory with a CA, a node and a client certificate signed by
/// it, and a second CA with its own client certificate. Removed at the end.
class test_pki {
public:
  test_pki() {
    char tmpl[] = "/tmp/cafcache-tls-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    make_ca("ca");
    make_cert("node", "ca");
    make_cert("client", "ca");
    make_ca("other-ca");
    make_cert("stranger", "other-ca");
  }

  ~test_pki() {
    std::filesystem::remove_all(dir_);
  }

  std::string path(const std::string& file) const {
    return dir_ + "/" + file;
  }

  /// The `--openssl.*` options for `name`'s certificate trusting `ca`.
  std::vector<std::string> options(const std::string& name,
                                   const std::string& ca) const {
    return {"--openssl.certificate=" + path(name + ".pem"),
            "--openssl.key=" + path(name + ".key"),
            "--openssl.cafile=" + path(ca + ".pem")};
  }

private:
  void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = run_program(args, patience);
    REQUIRE_MESSAGE(r.status == 0, r.err);
  }

  void make_ca(const std::string& name) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
             "/CN=" + name, "-keyout", path(name + ".key"), "-out",
             path(name + ".pem")});
  }

  void make_cert(const std::string& name, const std::string& ca) {
    openssl({"req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + name,
             "-keyout", path(name + ".key"), "-out", path(name + ".csr")});
    openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA",
             path(ca + ".pem"), "-CAkey", path(ca + ".key"),
             "-CAcreateserial", "-days", "1", "-out", path(name + ".pem")});
  }

  std::string dir_;
};

/// A loader that holds its answer until told to give it, and says when it
/// was asked.
struct held_loader_state {
  caf::response_promise pending;
};

caf::behavior held_loader(caf::stateful_actor<held_loader_state>* self,
                          std::shared_ptr<std::promise<void>> asked) {
  return {
    [=](load_atom, const std::string&) {
      self->state.pending = self->make_response_promise();
      asked->set_value();
    },
    [=](caf::ok_atom) {
      self->state.pending.deliver(
        load_result{true, cache_value{codec_kind::raw, "loaded"}});
    },
  };
}

/// What a burst of remote requests got back: every request counts once, as
/// an answer (a result or a cafcache error) or as lost (CAF's own error, such
/// as the request timeout of an answer that never arrived).
class answer_tally {
public:
  explicit answer_tally(size_t expected) : expected_(expected) {
  }

  /// Counts one request of `op` that got a result, or `err`.
  void add(std::string_view op, const caf::error* err = nullptr) {
    std::lock_guard<std::mutex> guard{mtx_};
    ++counted_;
    if (!err)
      ++outcomes_[fmt::format("{}: result", op)];
    else
      ++outcomes_[fmt::format("{}: {}", op, to_sentence(*err))];
    if (!err || err->category() == errc_category)
      ++answers_;
    if (counted_ == expected_)
      done_.notify_all();
  }

  /// Waits until every request counted or `limit` passed.
  bool wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> guard{mtx_};
    return done_.wait_for(guard, limit, [&] { return counted_ == expected_; });
  }

  size_t answers() {
    std::lock_guard<std::mutex> guard{mtx_};
    return answers_;
  }

  /// One line per outcome, with how often it happened.
  std::string outcomes() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::string out;
    for (auto& [what, n] : outcomes_)
      out += fmt::format("{} x {}\n", n, what);
    return out;
  }

private:
  std::mutex mtx_;
  std::condition_variable done_;
  size_t expected_;
  size_t counted_ = 0;
  size_t answers_ = 0;
  std::map<std::string, size_t> outcomes_;
};

/// Sends `count` sets of `PREFIX:N` and `count` gets of `PREFIX:N:stored`
/// to `cache` at once and counts what comes back in `tally`.
caf::behavior request_burst(caf::event_based_actor* self, cache_actor cache,
                            std::string prefix, size_t count,
                            std::shared_ptr<answer_tally> tally) {
  set_options write;
  write.deadline = 10s;
  request_options read;
  read.deadline = 10s;
  auto remaining = std::make_shared<size_t>(2 * count);
  auto settle = [=] {
    if (--*remaining == 0)
      self->quit();
  };
  for (size_t i = 0; i < count; ++i) {
    auto key = fmt::format("{}:{}", prefix, i);
    self
      ->request(cache, 15s, put_atom::value, key,
                cache_value{codec_kind::raw, "v"}, write)
      .then([=](write_result&) { tally->add("set"), settle(); },
            [=](caf::error& err) { tally->add("set", &err), settle(); });
    self->request(cache, 15s, get_atom::value, key + ":stored", read)
      .then([=](get_result&) { tally->add("get"), settle(); },
            [=](caf::error& err) { tally->add("get", &err), settle(); });
  }
  // A behavior keeps the actor alive until `settle` has seen every answer.
  return {[](caf::ok_atom) {}};
}

} // namespace

TEST_CASE("node addresses are HOST:PORT") {
  std::string why;
  auto addr = parse_node_address("10.0.0.5:4242", &why);
  REQUIRE(addr);
  CHECK(addr->host == "10.0.0.5");
  CHECK(addr->port == 4242);
  CHECK(parse_node_address("[::1]:7", &why)->host == "::1");
  for (auto bad : {"10.0.0.5", ":4242", "host:", "host:0", "host:65536",
                   "host:42x"}) {
    CHECK_FALSE(parse_node_address(bad, &why));
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("two nodes share one Redis; a killed node leaves the other "
          "serving") {
  redis_process redis;
  node_process a{CAFCACHE_NODE, redis_args(redis)};
  node_process b{CAFCACHE_NODE, redis_args(redis)};
  CHECK(a.banner().at(0).find("redis at redis://127.0.0.1") != std::string::npos);
  auto set = cli(a.address(), {"set", "greeting", "hello from A", "--ttl=60s"});
  REQUIRE_MESSAGE(set.status == 0, set.err);
  CHECK(set.out == "redis\n");
  auto get = cli(b.address(), {"get", "greeting"});
  REQUIRE_MESSAGE(get.status == 0, get.err);
  CHECK(get.out == "hello from A");
  // A client connected to A before it dies.
  node_config peer_cfg;
  caf::actor_system peer{peer_cfg};
  auto on_a = connect_cache(peer, node_address{"127.0.0.1", a.port()}, false,
                            5s);
  REQUIRE_MESSAGE(on_a, why(on_a));
  client a_api{peer, *on_a};
  REQUIRE(text(a_api.get("greeting")) == "hello from A");
  caf::scoped_actor watcher{peer};
  watcher->monitor(*on_a);
  a.process().kill();
  SUBCASE("B is unaffected") {
    get = cli(b.address(), {"get", "greeting"});
    CHECK(get.status == 0);
    CHECK(get.out == "hello from A");
    CHECK(cli(b.address(), {"set", "after", "kill"}).status == 0);
    CHECK(cli(b.address(), {"get", "after"}).out == "kill");
  }
  SUBCASE("the client of A gets an error, the cli a non-zero exit") {
    // The client learns that A went away from a down message. CAF 0.17
    // drops messages to a lost node, so a request gets its own timeout.
    caf::error reason;
    watcher->receive([&](caf::down_msg& x) { reason = std::move(x.reason); },
                     caf::after(patience) >> [] {});
    CHECK(reason == caf::exit_reason::remote_link_unreachable);
    caf::error err;
    watcher
      ->request(*on_a, 1s, get_atom::value, "greeting", request_options{})
      .receive([](get_result&) {}, [&](caf::error& x) { err = std::move(x); });
    CHECK(err == caf::sec::request_timeout);
    auto gone = cli(a.address(), {"get", "greeting"});
    CHECK(gone.status == 3);
    CHECK(gone.err.find("cannot reach " + a.address()) != std::string::npos);
    CHECK(gone.out.empty());
  }
}

TEST_CASE("a node on a Redis Cluster serves the cli as one on a single "
          "Redis does, each key from its primary") {
  redis_cluster cl;
  node_process node{CAFCACHE_NODE, {"--cafcache.redis-url=" + cl.url(),
                                    "--cafcache.key-prefix=nodes:"}};
  CHECK(node.banner().at(0).find("redis at redis-cluster://127.0.0.1:")
        != std::string::npos);
  std::set<size_t> owners;
  for (int i = 0; i < 20; ++i) {
    auto key = "k" + std::to_string(i);
    auto set = cli(node.address(), {"set", key, "v" + std::to_string(i)});
    REQUIRE_MESSAGE(set.status == 0, set.err);
    CHECK(set.out == "redis\n");
    auto owner = cl.owner_of(key_slot("nodes:" + key));
    CHECK(cl.command(owner, {"EXISTS", "nodes:" + key}).integer == 1);
    owners.insert(owner);
    auto get = cli(node.address(), {"get", key});
    CHECK(get.out == "v" + std::to_string(i));
  }
  CHECK(owners.size() == 3);
  auto health = cli(node.address(), {"health"});
  REQUIRE_MESSAGE(health.status == 0, health.err);
  CHECK(nlohmann::json::parse(health.out).at("healthy") == true);
  auto stats = cli(node.address(), {"stats"});
  CHECK(nlohmann::json::parse(stats.out).at("sets") == 20);
}

TEST_CASE("the cli reports misses, errors and reports for scripts") {
  redis_process redis;
  node_process node{CAFCACHE_NODE, redis_args(redis)};
  auto miss = cli(node.address(), {"get", "absent"});
  CHECK(miss.status == 1);
  CHECK(miss.out.empty());
  CHECK(miss.err == "cafcache-cli: absent: not found\n");
  auto refused = cli(node.address(), {"get", ""});
  CHECK(refused.status == 2);
  CHECK(refused.err.find("key") != std::string::npos);
  REQUIRE(cli(node.address(), {"set", "k", "v"}).status == 0);
  auto del = cli(node.address(), {"del", "k"});
  CHECK(del.status == 0);
  CHECK(del.out == "redis\n");
  CHECK(cli(node.address(), {"get", "k"}).status == 1);
  auto health = cli(node.address(), {"health"});
  REQUIRE_MESSAGE(health.status == 0, health.err);
  auto h = nlohmann::json::parse(health.out);
  CHECK(h.at("healthy") == true);
  auto stats = cli(node.address(), {"stats"});
  REQUIRE_MESSAGE(stats.status == 0, stats.err);
  CHECK(nlohmann::json::parse(stats.out).at("sets") == 1);
  CHECK(cli(node.address(), {"frobnicate"}).status == 64);
  auto no_key = cli(node.address(), {"get"});
  CHECK(no_key.status == 64);
  CHECK(no_key.err.find("get takes 1 operand") != std::string::npos);
  CHECK(cli(node.address(), {"get", "k", "--ttl=5s"}).status == 64);
  CHECK(run_program({CAFCACHE_CLI, "get", "k"}, patience).status == 64);
  // A node that takes the connection but never answers (SIGSTOP): the cli
  // gives up after its timeout.
  node.process().signal(SIGSTOP);
  auto stuck = cli(node.address(), {"--timeout=500ms", "health"});
  node.process().signal(SIGCONT);
  CHECK(stuck.status == 3);
  CHECK(stuck.out.empty());
  // Nothing listens on a fresh free port: a fast, clear failure.
  auto dead = cli("127.0.0.1:" + std::to_string(free_port()), {"health"});
  CHECK(dead.status == 3);
  CHECK(dead.err.find("cannot reach") != std::string::npos);
}

TEST_CASE("SIGTERM answers the pending request, keeps writes and exits 0") {
  redis_process redis;
  node_process node{CAFCACHE_NODE, redis_args(redis)};
  REQUIRE(cli(node.address(), {"set", "before", "kept"}).status == 0);
  node_config peer_cfg;
  caf::actor_system peer{peer_cfg};
  auto cache = connect_cache(peer, node_address{"127.0.0.1", node.port()},
                             false, 5s);
  REQUIRE_MESSAGE(cache, why(cache));
  auto asked = std::make_shared<std::promise<void>>();
  auto loader_asked = asked->get_future();
  auto loader = peer.spawn(held_loader, asked);
  // get_or_load on a miss: the node asks our loader, which holds the answer,
  // so the request is pending in the node when SIGTERM arrives.
  auto answer = std::async(std::launch::async, [&] {
    caf::scoped_actor self{peer};
    set_options opts;
    opts.deadline = 10s;
    caf::expected<get_result> out{caf::error{}};
    self->request(*cache, 15s, load_atom::value, std::string{"slow"},
                  caf::actor_cast<loader_actor>(loader), opts)
      .receive([&](get_result& r) { out = std::move(r); },
               [&](caf::error& err) { out = std::move(err); });
    return out;
  });
  REQUIRE(loader_asked.wait_for(patience) == std::future_status::ready);
  node.process().signal(SIGTERM);
  REQUIRE(node.process().wait_for_line("cafcache-node stopping on SIGTERM",
                                       patience));
  caf::anon_send(loader, caf::ok_atom::value);
  auto r = answer.get();
  REQUIRE_MESSAGE(r, why(r));
  CHECK(r->found);
  CHECK(r->value.data == "loaded");
  CHECK(node.process().wait_for_line("cafcache-node stopped", patience));
  CHECK(node.process().wait(patience) == 0);
  CHECK(redis.command({"EXISTS", "nodes:before"}).integer == 1);
  CHECK(redis.command({"EXISTS", "nodes:slow"}).integer == 1);
  caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
}

TEST_CASE("SIGTERM with 200 remote requests pending: every one is answered") {
  redis_process redis;
  // What is checked is that every answer leaves, not how fast: a slow
  // machine may need more than the default 2 s to hand out 6 MiB.
  auto args = redis_args(redis);
  args.push_back("--cafcache.drain-timeout=20s");
  node_process node{CAFCACHE_NODE, args};
  node_config peer_cfg;
  caf::actor_system peer{peer_cfg};
  auto cache = connect_cache(peer, node_address{"127.0.0.1", node.port()},
                             false, 5s);
  REQUIRE_MESSAGE(cache, why(cache));
  // Redis hangs, so the node holds every request until SIGTERM has arrived;
  // then Redis answers them all at once and the node has to get 200 answers,
  // 6 MiB of them values, out of the door while it stops.
  constexpr size_t per_client = 25;
  constexpr size_t clients = 4;
  client api{peer, *cache};
  for (size_t i = 0; i < clients; ++i)
    for (size_t j = 0; j < per_client; ++j)
      REQUIRE(api.set(fmt::format("burst{}:{}:stored", i, j),
                      std::string(64 * 1024, 'v')));
  auto tally = std::make_shared<answer_tally>(2 * per_client * clients);
  redis.pause();
  for (size_t i = 0; i < clients; ++i)
    peer.spawn(request_burst, *cache, fmt::format("burst{}", i), per_client,
               tally);
  std::this_thread::sleep_for(200ms);
  node.process().signal(SIGTERM);
  REQUIRE(node.process().wait_for_line("cafcache-node stopping on SIGTERM",
                                       patience));
  std::this_thread::sleep_for(300ms);
  redis.resume();
  auto resumed = std::chrono::steady_clock::now();
  CHECK(tally->wait(patience));
  CHECK_MESSAGE(tally->answers() == 2 * per_client * clients,
                tally->outcomes());
  CHECK(node.process().wait_for_line("cafcache-node stopped", patience));
  CHECK(node.process().wait(5s) == 0);
  MESSAGE("the node exited "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - resumed)
               .count()
          << " ms after Redis came back");
}

TEST_CASE("TLS: a client with the right CA gets in, strangers are refused") {
  test_pki pki;
  node_process node{CAFCACHE_NODE, pki.options("node", "ca")};
  CHECK(node.banner().at(1).find("tls on") != std::string::npos);
  auto with = [&](std::vector<std::string> tls,
                  const std::vector<std::string>& cmd) {
    tls.insert(tls.end(), cmd.begin(), cmd.end());
    return cli(node.address(), tls);
  };
  auto set = with(pki.options("client", "ca"), {"set", "secret", "42"});
  REQUIRE_MESSAGE(set.status == 0, set.err);
  auto get = with(pki.options("client", "ca"), {"get", "secret"});
  REQUIRE_MESSAGE(get.status == 0, get.err);
  CHECK(get.out == "42");
  // A certificate from another CA.
  auto stranger = with(pki.options("stranger", "other-ca"), {"get", "secret"});
  CHECK(stranger.status == 3);
  CHECK(stranger.out.empty());
  // A client that does not trust the node's CA.
  auto distrust = with(pki.options("client", "other-ca"), {"get", "secret"});
  CHECK(distrust.status == 3);
  CHECK(distrust.out.empty());
  // No TLS at all.
  auto plain = cli(node.address(), {"get", "secret"});
  CHECK(plain.status == 3);
  CHECK(plain.out.empty());
  // The node still serves the right client.
  CHECK(with(pki.options("client", "ca"), {"get", "secret"}).out == "42");
}

TEST_CASE("a node that cannot start exits 1 and says why") {
  auto refused = [](std::vector<std::string> args, const std::string& why) {
    args.insert(args.begin(), CAFCACHE_NODE);
    auto r = run_program(args, patience);
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK_MESSAGE(r.err.find("cafcache-node: ") != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(why) != std::string::npos, r.err);
  };
  refused({"--cafcache.pool-size=0"}, "cafcache.pool-size");
  refused({"--cafcache.no-such-option=1"}, "invalid option");
  node_process first{CAFCACHE_NODE, {}};
  refused({"--cafcache.port=" + std::to_string(first.port())},
          "cannot listen on 127.0.0.1:" + std::to_string(first.port()));
  test_pki pki;
  refused({"--cafcache.port=0",
           "--openssl.certificate=" + pki.path("node.pem"),
           "--openssl.key=" + pki.path("client.key"),
           "--openssl.cafile=" + pki.path("ca.pem")},
          "openssl.key");
  refused({"--openssl.cafile=" + pki.path("ca.pem")}, "openssl.certificate");
}

TEST_CASE("without a Redis URL a node runs on the in-memory tier alone") {
  node_process node{CAFCACHE_NODE, {}};
  CHECK(node.banner().at(0).find("in-memory tier alone")
        != std::string::npos);
  auto set = cli(node.address(), {"set", "k", "v"});
  REQUIRE_MESSAGE(set.status == 0, set.err);
  CHECK(set.out == "fallback\n");
  CHECK(cli(node.address(), {"get", "k"}).out == "v");
  auto health = nlohmann::json::parse(cli(node.address(), {"health"}).out);
  CHECK(health.at("connected") == false);
  // Running as configured: healthy, and no Redis named or blamed.
  CHECK(health.at("healthy") == true);
  CHECK(health.at("redis") == "");
  CHECK(health.at("last_error") == "");
  node.process().signal(SIGINT);
  CHECK(node.process().wait(patience) == 0);
}

TEST_CASE("invalidate on node B, then kill Redis: node A's fallback does not "
          "serve the old value") {
  redis_process redis;
  node_process a{CAFCACHE_NODE, redis_args(redis)};
  node_process b{CAFCACHE_NODE, redis_args(redis)};
  // A writes both keys; its fallback holds them.
  REQUIRE(cli(a.address(), {"set", "doomed", "old"}).status == 0);
  REQUIRE(cli(a.address(), {"set", "control", "kept"}).status == 0);
  REQUIRE(cli(a.address(), {"get", "doomed"}).out == "old");
  auto heard = [&] {
    auto stats = cli(a.address(), {"stats"});
    REQUIRE_MESSAGE(stats.status == 0, stats.err);
    return nlohmann::json::parse(stats.out).value("peer_invalidations", 0);
  };
  auto before = heard();
  REQUIRE(cli(b.address(), {"del", "doomed"}).out == "redis\n");
  auto until = std::chrono::steady_clock::now() + patience;
  while (heard() <= before && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(heard() == before + 1);
  redis.kill();
  // Redis is gone: A answers from its fallback, which kept the control key
  // and dropped the one B invalidated.
  auto doomed = cli(a.address(), {"get", "doomed"});
  CHECK(doomed.status == 1);
  CHECK(doomed.out.empty());
  auto control = cli(a.address(), {"get", "control"});
  CHECK(control.status == 0);
  CHECK(control.out == "kept");
}

TEST_CASE("the cli takes the durations the README shows: ms, s, m, min, h") {
  redis_process redis;
  node_process node{CAFCACHE_NODE, redis_args(redis)};
  auto pttl_after_set = [&](const std::string& ttl) -> int64_t {
    auto set = cli(node.address(), {"set", "d", "v", "--ttl=" + ttl});
    REQUIRE_MESSAGE(set.status == 0, "--ttl=" << ttl << ": " << set.err);
    return redis.command({"PTTL", "nodes:d"}).integer;
  };
  auto within = [](int64_t pttl, int64_t expected_ms) {
    // Redis counts down from the moment of the SET.
    return pttl > expected_ms - 5000 && pttl <= expected_ms;
  };
  CHECK(within(pttl_after_set("10m"), 600'000));
  CHECK(within(pttl_after_set("10min"), 600'000));
  CHECK(within(pttl_after_set("30s"), 30'000));
  CHECK(within(pttl_after_set("1h"), 3'600'000));
  CHECK(within(pttl_after_set("90000ms"), 90'000));
  CHECK(cli(node.address(), {"--timeout=1m", "get", "d"}).status == 0);
  for (auto bad : {"10", "10x", "m", "-5s", "0s"}) {
    auto refused = cli(node.address(), {"set", "d", "v",
                                        std::string{"--ttl="} + bad});
    CHECK_MESSAGE(refused.status == 64, bad);
    CHECK(refused.err.find("--ttl needs a positive duration")
          != std::string::npos);
  }
}
