// The scripted fake Redis Cluster node of tests/harness/fake_node.hpp: one
// thread polls the listening socket, a wake-up pipe and every connection;
// hiredis' reader parses the commands (RESP arrays of bulk strings), and
// each reply is written back in the order the commands came.

#include "tests/harness/fake_node.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

namespace cafcache {

// -- RESP replies -------------------------------------------------------------

namespace fake_resp {

std::string ok() {
  return "+OK\r\n";
}

std::string status(std::string_view text) {
  return fmt::format("+{}\r\n", text);
}

std::string error(std::string_view text) {
  return fmt::format("-{}\r\n", text);
}

std::string integer(long long n) {
  return fmt::format(":{}\r\n", n);
}

std::string bulk(std::string_view bytes) {
  return fmt::format("${}\r\n{}\r\n", bytes.size(), bytes);
}

std::string nil() {
  return "$-1\r\n";
}

std::string array(const std::vector<std::string>& encoded) {
  auto out = fmt::format("*{}\r\n", encoded.size());
  for (auto& x : encoded)
    out += x;
  return out;
}

std::string bulk_array(const std::vector<std::string>& items) {
  std::vector<std::string> encoded;
  for (auto& x : items)
    encoded.push_back(bulk(x));
  return array(encoded);
}

} // namespace fake_resp

std::string cluster_slots_reply(const std::vector<fake_slot_range>& ranges) {
  using namespace fake_resp;
  std::vector<std::string> entries;
  for (auto& r : ranges) {
    auto id = fmt::format("{:040d}", r.port);
    auto node = array({bulk(r.host), integer(r.port), bulk(id)});
    entries.push_back(array({integer(r.first), integer(r.last), node}));
  }
  return array(entries);
}

// -- the node -----------------------------------------------------------------

namespace {

std::string upper(std::string_view x) {
  std::string out{x};
  for (auto& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool same_name(std::string_view x, std::string_view y) {
  return x.size() == y.size() && upper(x) == upper(y);
}

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

/// Writes all of `bytes`; false when the peer is gone.
bool send_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::send(fd, bytes.data() + done, bytes.size() - done,
                    MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

struct reader_deleter {
  void operator()(redisReader* r) const {
    redisReaderFree(r);
  }
};

} // namespace

struct fake_node::client {
  int fd = -1;
  /// A command of it came while the node was silent: this connection never
  /// gets an answer again (its replies would be out of step).
  bool muted = false;
  std::unique_ptr<redisReader, reader_deleter> reader{redisReaderCreate()};
};

fake_node::fake_node() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0 || ::pipe(wake_) != 0)
    throw std::runtime_error("fake_node: no socket or pipe");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(listen_fd_, 64) != 0
      || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len)
           != 0) {
    close_fd(listen_fd_);
    close_fd(wake_[0]);
    close_fd(wake_[1]);
    throw std::runtime_error("fake_node: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  slots_ = cluster_slots_reply({{0, 16383, "127.0.0.1", port_}});
  thread_ = std::thread{[this] { run(); }};
}

fake_node::~fake_node() {
  stop();
}

std::string fake_node::address() const {
  return fmt::format("127.0.0.1:{}", port_);
}

void fake_node::set_handler(handler_type handler) {
  std::lock_guard<std::mutex> guard{mtx_};
  handler_ = std::move(handler);
}

void fake_node::set_slots(std::string reply) {
  std::lock_guard<std::mutex> guard{mtx_};
  slots_ = std::move(reply);
}

void fake_node::put(const std::string& key, std::string value) {
  std::lock_guard<std::mutex> guard{mtx_};
  store_[key] = std::move(value);
}

void fake_node::set_silent(bool on) {
  silent_ = on;
}

void fake_node::stop() {
  if (!thread_.joinable())
    return;
  stopping_ = true;
  char x = 'x';
  [[maybe_unused]] auto n = ::write(wake_[1], &x, 1);
  thread_.join();
  close_fd(wake_[0]);
  close_fd(wake_[1]);
}

std::vector<std::vector<std::string>> fake_node::received() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return received_;
}

size_t fake_node::count(std::string_view name, std::string_view arg) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return static_cast<size_t>(
    std::count_if(received_.begin(), received_.end(), [&](const auto& argv) {
      return !argv.empty() && same_name(argv[0], name)
             && (arg.empty() || (argv.size() > 1 && argv[1] == arg));
    }));
}

void fake_node::clear_received() {
  std::lock_guard<std::mutex> guard{mtx_};
  received_.clear();
}

std::string fake_node::answer(const std::vector<std::string>& argv) {
  handler_type handler;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    received_.push_back(argv);
    handler = handler_;
  }
  // Outside the lock: a handler may ask this node (count, put).
  if (handler) {
    auto reply = handler(argv);
    if (!reply.empty())
      return reply;
  }
  return default_answer(argv);
}

std::string fake_node::default_answer(const std::vector<std::string>& argv) {
  using namespace fake_resp;
  if (argv.empty())
    return error("ERR empty command");
  auto cmd = upper(argv[0]);
  auto sub = argv.size() > 1 ? upper(argv[1]) : std::string{};
  if (cmd == "PING")
    return status("PONG");
  if (cmd == "AUTH" || cmd == "SELECT" || cmd == "ASKING"
      || cmd == "READONLY" || cmd == "CLIENT")
    return ok();
  if (cmd == "INFO") {
    // What the connection reads: the dataset's identity and the role.
    auto id = fmt::format("{:040d}", port_);
    return bulk(fmt::format("# Server\r\nredis_version:7.0.0\r\nrun_id:{}\r\n"
                            "\r\n# Replication\r\nrole:master\r\n"
                            "master_replid:{}\r\nmaster_repl_offset:0\r\n",
                            id, id));
  }
  if (cmd == "SUBSCRIBE") {
    std::string out;
    for (size_t i = 1; i < argv.size(); ++i)
      out += array({bulk("subscribe"), bulk(argv[i]),
                    integer(static_cast<long long>(i))});
    return out;
  }
  if (cmd == "PUBLISH")
    return integer(0);
  if (cmd == "CLUSTER" && sub == "SLOTS") {
    std::lock_guard<std::mutex> guard{mtx_};
    return slots_;
  }
  if (cmd == "CLUSTER" && sub == "GETKEYSINSLOT")
    return array({});
  if (cmd == "CLUSTER")
    return ok();
  if (cmd == "SCAN")
    return array({bulk("0"), array({})});
  std::lock_guard<std::mutex> guard{mtx_};
  if (cmd == "GET" && argv.size() == 2) {
    auto i = store_.find(argv[1]);
    return i == store_.end() ? nil() : bulk(i->second);
  }
  if (cmd == "SET" && argv.size() >= 3) {
    store_[argv[1]] = argv[2];
    return ok();
  }
  if (cmd == "UNLINK" || cmd == "DEL" || cmd == "EXISTS") {
    long long n = 0;
    for (size_t i = 1; i < argv.size(); ++i) {
      if (store_.count(argv[i]) == 0)
        continue;
      ++n;
      if (cmd != "EXISTS")
        store_.erase(argv[i]);
    }
    return integer(n);
  }
  if (cmd == "DBSIZE")
    return integer(static_cast<long long>(store_.size()));
  return error(fmt::format("ERR unknown command '{}'", argv[0]));
}

void fake_node::run() {
  std::vector<std::unique_ptr<client>> clients;
  std::vector<pollfd> fds;
  char buf[16 * 1024];
  while (!stopping_) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : clients)
      fds.push_back({c->fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 100) < 0)
      continue;
    if (fds[1].revents & POLLIN) {
      auto fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd >= 0) {
        ++accepted_;
        auto c = std::make_unique<client>();
        c->fd = fd;
        clients.push_back(std::move(c));
      }
    }
    // Only the clients polled this round (an accepted one comes next round).
    for (size_t i = 2; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
        continue;
      auto& c = *clients[i - 2];
      auto n = ::recv(c.fd, buf, sizeof(buf), 0);
      bool alive = n > 0
                   && redisReaderFeed(c.reader.get(), buf,
                                      static_cast<size_t>(n))
                        == REDIS_OK;
      std::string out;
      while (alive) {
        void* reply = nullptr;
        if (redisReaderGetReply(c.reader.get(), &reply) != REDIS_OK) {
          alive = false;
          break;
        }
        if (reply == nullptr)
          break;
        auto* r = static_cast<redisReply*>(reply);
        std::vector<std::string> argv;
        if (r->type == REDIS_REPLY_ARRAY)
          for (size_t k = 0; k < r->elements; ++k) {
            auto* e = r->element[k];
            argv.push_back(e->str != nullptr ? std::string(e->str, e->len)
                                             : std::string{});
          }
        freeReplyObject(reply);
        auto reply_bytes = answer(argv);
        if (silent_)
          c.muted = true;
        if (!c.muted)
          out += reply_bytes;
      }
      if (!out.empty() && !send_all(c.fd, out))
        alive = false;
      if (!alive)
        close_fd(c.fd);
    }
    clients.erase(std::remove_if(clients.begin(), clients.end(),
                                 [](auto& c) { return c->fd < 0; }),
                  clients.end());
  }
  for (auto& c : clients)
    close_fd(c->fd);
  close_fd(listen_fd_);
}

} // namespace cafcache
