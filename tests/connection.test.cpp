// Connection attempts against peers that are not a working Redis: a black
// hole that accepts TCP and never answers (a proxy whose backend is down) and
// a port nobody listens on. Attempts that time out must not leave sockets
// open, and every failed attempt is logged. Against a real Redis, the
// handshake reports the dataset identity (INFO server / replication).

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "actors/redis_connection.hpp"
#include "actors/supervisor.hpp"
#include "tests/support.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

/// A TCP listener on 127.0.0.1 that accepts every connection, reads and
/// discards what arrives and never writes. Counts the accepted sockets whose
/// peer has not closed yet.
class black_hole {
public:
  black_hole() : port_(free_port()) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener_ >= 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr),
                   sizeof(addr))
            == 0);
    REQUIRE(::listen(listener_, 128) == 0);
    thread_ = std::thread{[this] { run(); }};
  }

  ~black_hole() {
    stop_ = true;
    thread_.join();
    for (auto fd : open_)
      ::close(fd);
    ::close(listener_);
  }

  std::string url() const {
    return "redis://127.0.0.1:" + std::to_string(port_);
  }

  /// Connections accepted so far.
  size_t accepted() const {
    return accepted_;
  }

  /// Accepted connections whose peer has not closed yet.
  size_t open() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return open_.size();
  }

  /// Bytes received so far, on all connections.
  size_t received() const {
    return received_;
  }

  /// The most connections that were open at once.
  size_t max_open() const {
    return max_open_;
  }

private:
  void run() {
    std::vector<char> buf(4096);
    while (!stop_) {
      std::vector<pollfd> fds;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        fds.push_back({listener_, POLLIN, 0});
        for (auto fd : open_)
          fds.push_back({fd, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 10) <= 0)
        continue;
      std::lock_guard<std::mutex> guard{mtx_};
      if (fds[0].revents & POLLIN) {
        auto fd = ::accept(listener_, nullptr, nullptr);
        if (fd >= 0) {
          open_.push_back(fd);
          ++accepted_;
          max_open_ = std::max(max_open_.load(), open_.size());
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0)
          continue;
        auto n = ::recv(fds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0)
          received_ += static_cast<size_t>(n);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          ::close(fds[i].fd);
          open_.erase(std::find(open_.begin(), open_.end(), fds[i].fd));
        }
      }
    }
  }

  uint16_t port_;
  int listener_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mtx_;
  std::vector<int> open_;
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> max_open_{0};
  std::atomic<size_t> received_{0};
};

/// A connection to `endpoint` whose supervisor is `self`, and the hello it
/// sent `self` at the end of its handshake.
struct spawned {
  caf::actor conn;
  caf::error err;
  std::string identity;
};

spawned spawn_connection(caf::actor_system& sys, caf::scoped_actor& self,
                         const redis_endpoint& endpoint, uint32_t slot = 0,
                         uint64_t attempt = 1,
                         caf::timespan stall_timeout = 5s) {
  auto conn = sys.middleman().spawn_client(redis_connection, endpoint.host,
                                           endpoint.port, caf::actor{self},
                                           slot, attempt, endpoint, 10u, 5s,
                                           stall_timeout,
                                           cache_internal_actor{},
                                           std::string{}, 1ms, 0ms);
  REQUIRE(conn);
  spawned out{*conn, make_error(errc::shutting_down, "no hello"), {}};
  self->receive(
    [&](hello_atom, uint32_t, uint64_t, caf::actor&, caf::error& e,
        std::string& id) {
      out.err = std::move(e);
      out.identity = std::move(id);
    },
    caf::after(5s) >> [] {});
  return out;
}

/// The number of file descriptors this process has open.
size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& entry :
       std::filesystem::directory_iterator{"/proc/self/fd"})
    ++n;
  return n;
}

/// Settings for attempts that time out quickly and retry soon.
config black_hole_config(const std::string& url) {
  auto cfg = fast_config(url);
  cfg.pool_size = 2;
  cfg.connect_timeout = 200ms;
  // Well above the few milliseconds by which a connection's own timeout
  // trails the supervisor's.
  cfg.reconnect_min = 50ms;
  cfg.reconnect_max = 100ms;
  return cfg;
}

} // namespace

TEST_CASE("attempts that time out against a silent peer close their sockets") {
  black_hole peer;
  node_config cfg;
  caf::actor_system sys{cfg};
  auto settings = black_hole_config(peer.url());
  // Pool plus the subscriber slot: the most attempts in flight at once.
  auto slots = settings.pool_size + 1;
  auto fds_before = open_fds();
  auto cache = spawn_cache(sys, settings);
  REQUIRE(cache);
  // About eight attempts per slot.
  std::this_thread::sleep_for(2500ms);
  auto fds_after = open_fds();
  MESSAGE("accepted " << peer.accepted() << ", open " << peer.open()
                      << ", most open at once " << peer.max_open()
                      << ", fds " << fds_before << " -> " << fds_after);
  CHECK(peer.accepted() >= 3 * slots);
  CHECK(peer.max_open() <= slots);
  // Both ends of each connection live in this process.
  CHECK(fds_after <= fds_before + 2 * slots);
  stop_cache(sys, *cache);
}

TEST_CASE("a failed connection attempt is logged with slot, endpoint and "
          "error") {
  stderr_capture log;
  node_config cfg;
  caf::actor_system sys{cfg};
  SUBCASE("nobody listens") {
    auto settings = fast_config("redis://:secret@127.0.0.1:"
                                + std::to_string(free_port()));
    settings.coherence = false;
    auto cache = spawn_cache(sys, settings);
    REQUIRE(cache);
    std::this_thread::sleep_for(300ms);
    stop_cache(sys, *cache);
    auto text = log.text();
    CHECK(text.find("event=connect_failed") != std::string::npos);
    CHECK(text.find("slot=0") != std::string::npos);
    CHECK(text.find("slot=1") != std::string::npos);
    CHECK(text.find("cannot connect to 127.0.0.1") != std::string::npos);
    CHECK(text.find("redis=redis://:***@127.0.0.1") != std::string::npos);
    CHECK(text.find("secret") == std::string::npos);
  }
  SUBCASE("the peer never answers") {
    black_hole peer;
    auto settings = black_hole_config(peer.url());
    auto cache = spawn_cache(sys, settings);
    REQUIRE(cache);
    std::this_thread::sleep_for(500ms);
    stop_cache(sys, *cache);
    auto text = log.text();
    CHECK(text.find("event=connect_failed") != std::string::npos);
    CHECK(text.find("slot=2") != std::string::npos);
    CHECK(text.find("connect-timeout") != std::string::npos);
  }
}

TEST_CASE("the supervisor passes the dataset identity of Redis to the cache") {
  redis_process redis;
  node_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto settings = fast_config(redis.url());
  settings.pool_size = 1;
  settings.coherence = false;
  // The scoped actor stands in for both the cache and the breaker.
  auto sup = self->spawn(supervisor, settings,
                         caf::actor_cast<cache_internal_actor>(self),
                         caf::actor_cast<breaker_actor>(self));
  std::string identity;
  caf::error err;
  bool up = false;
  self->receive_while([&] { return !up && !err; })(
    [&](conn_atom, uint32_t, caf::actor& conn, caf::error& e,
        std::string& id) {
      up = static_cast<bool>(conn);
      err = std::move(e);
      identity = std::move(id);
    },
    [](conn_atom, bool) {}, caf::after(5s) >> [&] {
      err = make_error(errc::redis_unavailable, "no conn message");
    });
  REQUIRE_MESSAGE(up, to_sentence(err));
  auto run_id = info_field(redis.command({"INFO", "server"}).str, "run_id");
  auto replid = info_field(redis.command({"INFO", "replication"}).str,
                           "master_replid");
  REQUIRE(run_id.size() == 40);
  CHECK(identity == run_id + "/" + replid);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE("info_field reads one field of an INFO reply") {
  std::string info = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
                     "master_replid:abc123\r\nmaster_replid2:000\r\n";
  CHECK(info_field(info, "role") == "master");
  CHECK(info_field(info, "master_replid") == "abc123");
  CHECK(info_field(info, "master_replid2") == "000");
  CHECK(info_field(info, "replid") == "");
  CHECK(info_field(info, "run_id") == "");
  CHECK(info_field("run_id:x", "run_id") == "x");
}

TEST_CASE("a connection stopped after its handshake closes its socket") {
  // What the supervisor does with a handshake that succeeded after it gave
  // up on the attempt.
  redis_process redis;
  node_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto endpoint = fast_config(redis.url()).endpoint();
  auto fds_before = open_fds();
  for (uint64_t attempt = 1; attempt <= 5; ++attempt) {
    auto [conn, err, identity] = spawn_connection(sys, self, endpoint, 0,
                                                  attempt);
    REQUIRE_MESSAGE(!err, to_sentence(err));
    CHECK(!identity.empty());
    self->monitor(conn);
    self->send_exit(conn, caf::exit_reason::kill);
    self->receive([](const caf::down_msg&) {});
    // The multiplexer closes the socket after the broker is gone.
    auto until = std::chrono::steady_clock::now() + 2s;
    while (open_fds() > fds_before && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(5ms);
    CHECK(open_fds() == fds_before);
  }
}

TEST_CASE("an idle connection whose server stops answering is dropped as "
          "lost; a subscribed one is left alone") {
  // A standby of the pool carries no requests: without a check of its own
  // it would be found dead only when the active connection drops. A
  // subscribed connection is not checked: dropping it costs every node its
  // fallback at the resubscription.
  redis_process redis;
  node_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto endpoint = fast_config(redis.url()).endpoint();
  std::vector<caf::actor> conns;
  for (uint32_t slot = 0; slot < 2; ++slot) {
    auto x = spawn_connection(sys, self, endpoint, slot, 1, 500ms);
    REQUIRE_MESSAGE(!x.err, to_sentence(x.err));
    conns.push_back(x.conn);
  }
  self->send(conns[1], subscribe_atom::value, caf::actor{self}, uint64_t{0});
  // Idle and healthy: a few checks pass without a report.
  std::vector<uint32_t> lost;
  auto on_lost = [&](lost_atom, uint32_t slot, uint64_t, caf::error& e) {
    CHECK(is(e, errc::redis_unavailable));
    lost.push_back(slot);
  };
  self->receive(on_lost, caf::after(1500ms) >> [] {});
  REQUIRE(lost.empty());
  redis.pause();
  self->receive(on_lost, caf::after(5s) >> [] {});
  // The subscribed one would have been reported within the same time.
  self->receive(on_lost, caf::after(2s) >> [] {});
  redis.resume();
  CHECK(lost == std::vector<uint32_t>{0});
  for (auto& conn : conns)
    self->send_exit(conn, caf::exit_reason::kill);
}

TEST_CASE("a handshake the peer never answers ends after the timeout") {
  black_hole peer;
  node_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto endpoint = fast_config(peer.url()).endpoint();
  auto fds_before = open_fds();
  for (uint64_t attempt = 1; attempt <= 3; ++attempt) {
    auto conn = sys.middleman().spawn_client(redis_connection, endpoint.host,
                                             endpoint.port, caf::actor{self},
                                             4u, attempt, endpoint, 10u,
                                             100ms, 5s, cache_internal_actor{},
                                             std::string{}, 1ms, 0ms);
    REQUIRE(conn);
    caf::error err;
    self->receive(
      [&](hello_atom, uint32_t slot, uint64_t n, caf::actor&, caf::error& e,
          std::string& identity) {
        CHECK(slot == 4);
        CHECK(n == attempt);
        CHECK(identity.empty());
        err = std::move(e);
      },
      caf::after(5s) >> [] { FAIL("no hello"); });
    CHECK(is(err, errc::redis_unavailable));
    CHECK(to_sentence(err).find("cafcache.connect-timeout")
          != std::string::npos);
  }
  auto until = std::chrono::steady_clock::now() + 2s;
  while ((peer.open() > 0 || open_fds() > fds_before)
         && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  CHECK(peer.accepted() == 3);
  CHECK(peer.open() == 0);
  CHECK(open_fds() == fds_before);
}

TEST_CASE("a Sentinel-managed connection refuses a server that is a replica, "
          "and drops one that turns READONLY, and so do the others to it") {
  // A Sentinel that has not seen a failover yet can name a replica; the
  // handshake's ROLE check (INFO replication) catches it.
  redis_process primary;
  // Loads the primary's data from the socket, so that no dump.rdb lands in
  // the working directory.
  redis_process replica{{"--replicaof", "127.0.0.1",
                         std::to_string(primary.port()), "--repl-diskless-load",
                         "swapdb"}};
  node_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto hello = [&](redis_process& to, uint32_t slot) {
    auto endpoint = fast_config(to.url()).endpoint();
    endpoint.sentinels = {{"127.0.0.1", 1}};
    endpoint.master_name = "m";
    auto x = spawn_connection(sys, self, endpoint, slot);
    return std::make_pair(x.conn, x.err);
  };
  auto [refused, err] = hello(replica, 0);
  REQUIRE(err);
  CHECK(to_sentence(err).find("is a slave") != std::string::npos);
  // On the primary the handshake passes; once the primary is demoted, its
  // READONLY reply ends the connection (lost), so that the next attempt asks
  // the Sentinels again.
  auto [conn, ok] = hello(primary, 0);
  REQUIRE_MESSAGE(!ok, to_sentence(ok));
  // A standby of the same pool, which writes nothing.
  auto [standby, standby_ok] = hello(primary, 1);
  REQUIRE_MESSAGE(!standby_ok, to_sentence(standby_ok));
  primary.command({"REPLICAOF", "127.0.0.1", std::to_string(replica.port())});
  self->request(conn, 5s, cmd_atom::value,
                std::vector<std::string>{"SET", "k", "v"})
    .receive([](resp_value&) { FAIL("a READONLY reply was delivered"); },
             [](caf::error&) {});
  // The supervisor (here: this actor) hears which server was demoted.
  std::string demoted;
  caf::error lost;
  bool timed_out = false;
  self->receive_while([&] { return !timed_out && (demoted.empty() || !lost); })(
    [&](demoted_atom, std::string& address) { demoted = std::move(address); },
    [&](lost_atom, uint32_t slot, uint64_t, caf::error& e) {
      CHECK(slot == 0);
      lost = std::move(e);
    },
    caf::after(5s) >> [&] { timed_out = true; });
  CHECK(to_sentence(lost).find("READONLY") != std::string::npos);
  CHECK(demoted == "127.0.0.1:" + std::to_string(primary.port()));
  // Told of another server, the standby stays; told of its own, it goes.
  self->send(standby, demoted_atom::value, std::string{"127.0.0.1:1"});
  caf::error standby_lost;
  self->receive(
    [&](lost_atom, uint32_t, uint64_t, caf::error& e) {
      standby_lost = std::move(e);
    },
    caf::after(300ms) >> [] {});
  CHECK_FALSE(standby_lost);
  self->send(standby, demoted_atom::value, demoted);
  self->receive(
    [&](lost_atom, uint32_t slot, uint64_t, caf::error& e) {
      CHECK(slot == 1);
      standby_lost = std::move(e);
    },
    caf::after(5s) >> [] {});
  REQUIRE(standby_lost);
  CHECK(to_sentence(standby_lost).find("READONLY on another connection")
        != std::string::npos);
  self->send_exit(conn, caf::exit_reason::kill);
  self->send_exit(standby, caf::exit_reason::kill);
  self->send_exit(refused, caf::exit_reason::kill);
}
