// The peer guard in front of cafcache-node (no TLS), from the outside: raw
// sockets speaking just enough BASP to announce frames, cafcache-cli as the
// well-behaved peer, and a client behind a relay that stops reading. Every
// node runs on a free loopback port and is stopped by its pid.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support.hpp"
#include "tests/harness/node_process.hpp"
#include "tests/harness/process_memory.hpp"
#include "tools/remote_cache.hpp"

using namespace cafcache;
using namespace cafcache::test;

namespace {

constexpr auto patience = std::chrono::seconds(20);

run_result cli(const node_process& node, std::vector<std::string> args) {
  std::vector<std::string> argv{CAFCACHE_CLI, "--node=" + node.address(),
                                "--timeout=3s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, patience);
}

/// A raw TCP connection to a node.
class raw_peer {
public:
  explicit raw_peer(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
            == 0);
  }

  ~raw_peer() {
    ::close(fd_);
  }

  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  /// Sends a valid BASP 0.17 client-handshake header (version 3) that
  /// announces `payload_len` bytes of payload, and none of the payload.
  void announce(uint32_t payload_len) {
    std::array<unsigned char, 32> hdr{};
    hdr[0] = 0x01; // client_handshake
    for (int i = 0; i < 4; ++i)
      hdr[4 + i] = static_cast<unsigned char>(payload_len >> (24 - 8 * i));
    hdr[15] = 3; // operation_data: BASP version, big-endian uint64
    REQUIRE(::send(fd_, hdr.data(), hdr.size(), MSG_NOSIGNAL)
            == static_cast<ssize_t>(hdr.size()));
  }

  /// Reads until the node closes the connection. Returns the bytes read, or
  /// -1 when the connection is still open after `limit`.
  long read_until_closed(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    long total = 0;
    std::array<char, 4096> buf;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return -1;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return -1;
      auto n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n <= 0)
        return total;
      total += n;
    }
  }

private:
  int fd_;
};

/// A TCP relay on a free loopback port for one client of this process and a
/// node, that stops reading what the node sends when told to. Its socket to
/// the node has a small receive buffer, so that the node soon has to keep
/// what it sends: as the node sees it, a peer that stopped reading.
class stalling_relay {
public:
  explicit stalling_relay(uint16_t node_port)
    : node_port_(node_port), listen_fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr = loopback(0);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr),
                   sizeof(addr))
            == 0);
    REQUIRE(::listen(listen_fd_, 1) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { run(); }};
  }

  ~stalling_relay() {
    done_ = true;
    thread_.join();
    for (auto fd : {listen_fd_, client_fd_, node_fd_})
      if (fd >= 0)
        ::close(fd);
  }

  stalling_relay(const stalling_relay&) = delete;
  stalling_relay& operator=(const stalling_relay&) = delete;

  uint16_t port() const {
    return port_;
  }

  /// From now on nothing the node sends is read.
  void stall() {
    stalled_ = true;
  }

private:
  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  /// Copies what `from` has to `to`; false on end of input or an error.
  static bool pass(int from, int to) {
    std::array<char, 64 * 1024> buf;
    auto n = ::recv(from, buf.data(), buf.size(), 0);
    if (n <= 0)
      return false;
    for (ssize_t sent = 0; sent < n;) {
      auto k = ::send(to, buf.data() + sent, n - sent, MSG_NOSIGNAL);
      if (k <= 0)
        return false;
      sent += k;
    }
    return true;
  }

  void run() {
    pollfd accept_ready{listen_fd_, POLLIN, 0};
    while (!done_ && ::poll(&accept_ready, 1, 50) <= 0)
      continue;
    if (done_)
      return;
    client_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    node_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    ::setsockopt(node_fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    auto addr = loopback(node_port_);
    if (client_fd_ < 0
        || ::connect(node_fd_, reinterpret_cast<sockaddr*>(&addr),
                     sizeof(addr))
             != 0)
      return;
    while (!done_) {
      std::array<pollfd, 2> fds{pollfd{client_fd_, POLLIN, 0},
                                pollfd{node_fd_, POLLIN, 0}};
      auto n = ::poll(fds.data(), stalled_ ? 1 : 2, 50);
      if (n < 0)
        return;
      if (fds[0].revents != 0 && !pass(client_fd_, node_fd_))
        return;
      if (!stalled_ && fds[1].revents != 0 && !pass(node_fd_, client_fd_))
        return;
    }
  }

  uint16_t node_port_;
  uint16_t port_ = 0;
  int listen_fd_;
  int client_fd_ = -1;
  int node_fd_ = -1;
  std::atomic<bool> stalled_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("a peer announcing more than max-message-bytes is disconnected "
          "before the node allocates it") {
  node_process node{CAFCACHE_NODE, {"--cafcache.max-peers=8"}};
  REQUIRE(cli(node, {"set", "k", "v"}).status == 0);
  auto before = rss_bytes_of(std::to_string(node.process().pid()));
  // 20 peers, each announcing a 2 GiB handshake: CAF itself would allocate
  // the whole payload per connection as soon as it read the header.
  for (int i = 0; i < 20; ++i) {
    raw_peer peer{node.port()};
    peer.announce(0x7fff0000u);
    CHECK(peer.read_until_closed(std::chrono::seconds(5)) >= 0);
  }
  auto after = rss_bytes_of(std::to_string(node.process().pid()));
  MESSAGE("node RSS before " << before / 1024 << " KiB, after "
                             << after / 1024 << " KiB");
  CHECK(after < before + 64 * 1024 * 1024);
  // A handshake is small: 64 KiB is refused even below max-message-bytes.
  raw_peer big_handshake{node.port()};
  big_handshake.announce(65 * 1024);
  CHECK(big_handshake.read_until_closed(std::chrono::seconds(5)) >= 0);
  // The node still serves well-behaved peers.
  auto get = cli(node, {"get", "k"});
  CHECK(get.status == 0);
  CHECK(get.out == "v");
}

TEST_CASE("messages up to max-message-bytes pass the guard, larger ones "
          "close only their own connection") {
  node_process node{CAFCACHE_NODE,
                    {"--cafcache.max-value-bytes=200000",
                     "--cafcache.max-message-bytes=300000"}};
  std::string fits(100000, 'a');
  REQUIRE(cli(node, {"set", "fits", fits}).status == 0);
  CHECK(cli(node, {"get", "fits"}).out == fits);
  // The same node with a limit below the value: a second node, same rule.
  node_process tight{CAFCACHE_NODE,
                     {"--cafcache.max-value-bytes=1000",
                      "--cafcache.max-message-bytes=70000"}};
  auto refused = cli(tight, {"set", "big", fits});
  CHECK(refused.status != 0);
  CHECK(cli(tight, {"get", "big"}).status == 1); // miss: never written
  CHECK(cli(tight, {"set", "small", "ok"}).status == 0);
  CHECK(cli(tight, {"get", "small"}).out == "ok");
}

TEST_CASE("beyond max-peers a connection is closed at once; a freed slot is "
          "taken again") {
  node_process node{CAFCACHE_NODE, {"--cafcache.max-peers=2"}};
  auto first = std::make_unique<raw_peer>(node.port());
  raw_peer second{node.port()};
  // Both get the node's handshake and stay connected.
  CHECK(first->read_until_closed(std::chrono::milliseconds(500)) == -1);
  CHECK(second.read_until_closed(std::chrono::milliseconds(500)) == -1);
  raw_peer third{node.port()};
  CHECK(third.read_until_closed(std::chrono::seconds(5)) == 0);
  // The cli is a third peer too.
  CHECK(cli(node, {"--timeout=1s", "health"}).status != 0);
  first.reset();
  // The guard sees the close; the cli gets the freed slot.
  auto until = std::chrono::steady_clock::now() + patience;
  int status = -1;
  while (status != 0 && std::chrono::steady_clock::now() < until)
    status = cli(node, {"set", "k", "v"}).status;
  CHECK(status == 0);
}

TEST_CASE("SIGTERM: a peer that stopped reading is cut off after the drain "
          "time, and the node exits 0") {
  node_process node{CAFCACHE_NODE, {}};
  stalling_relay relay{node.port()};
  node_config peer_cfg;
  caf::actor_system peer{peer_cfg};
  auto cache = connect_cache(peer, node_address{"127.0.0.1", relay.port()},
                             false, 5s);
  REQUIRE_MESSAGE(cache, why(cache));
  client api{peer, *cache};
  REQUIRE(api.set("big", std::string(1000 * 1000, 'x')));
  relay.stall();
  // 14 answers of 1 MB: more than the sockets between the node and the
  // relay hold, less than the guard's not_reading limit (16 MB by default).
  caf::scoped_actor self{peer};
  for (int i = 0; i < 14; ++i)
    self->send(*cache, get_atom::value, std::string{"big"},
               request_options{});
  caf::error stuck;
  self->request(*cache, 1s, health_atom::value)
    .receive([](health_report&) {}, [&](caf::error& err) { stuck = err; });
  REQUIRE(stuck == caf::sec::request_timeout);
  auto asked = std::chrono::steady_clock::now();
  node.process().signal(SIGTERM);
  auto status = node.process().wait(10s);
  auto took = std::chrono::steady_clock::now() - asked;
  MESSAGE("waited "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took)
               .count()
          << " ms for the node after SIGTERM");
  CHECK(status == 0);
  CHECK(took >= 1s); // It gave the peer its drain time.
}
