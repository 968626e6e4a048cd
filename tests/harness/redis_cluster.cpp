#include "tests/harness/redis_cluster.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace cafcache {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr auto ready_timeout = std::chrono::seconds(30);

constexpr auto poll_interval = std::chrono::milliseconds(50);

// A manual failover that did not happen in this time has timed out in the
// server (it gives up after 5 s) and is asked for again.
constexpr auto failover_retry = std::chrono::seconds(8);

constexpr size_t slot_count = 16384;

// The port of the primary of each slot by one node's CLUSTER SLOTS, 0 for
// a slot it names no primary for. The harness reads the reply itself
// rather than with runtime/cluster_slots, the code its tests check.
std::vector<uint16_t> owner_ports(const resp_value& reply) {
  std::vector<uint16_t> out(slot_count, 0);
  if (reply.type != resp_value::kind::array)
    return out;
  for (auto& entry : reply.elements) {
    if (entry.type != resp_value::kind::array || entry.elements.size() < 3)
      continue;
    auto& first = entry.elements[0];
    auto& last = entry.elements[1];
    auto& primary = entry.elements[2];
    if (first.type != resp_value::kind::integer
        || last.type != resp_value::kind::integer
        || primary.type != resp_value::kind::array
        || primary.elements.size() < 2
        || primary.elements[1].type != resp_value::kind::integer)
      continue;
    for (auto slot = std::max<int64_t>(first.integer, 0);
         slot <= last.integer && slot < static_cast<int64_t>(slot_count);
         ++slot)
      out[static_cast<size_t>(slot)]
        = static_cast<uint16_t>(primary.elements[1].integer);
  }
  return out;
}

// The ports of the replicas a CLUSTER SLOTS reply lists.
std::vector<uint16_t> replica_ports(const resp_value& reply) {
  std::vector<uint16_t> out;
  for (auto& entry : reply.elements)
    for (size_t j = 3; j < entry.elements.size(); ++j)
      if (auto& node = entry.elements[j]; node.elements.size() >= 2
                                          && node.elements[1].type
                                               == resp_value::kind::integer)
        out.push_back(static_cast<uint16_t>(node.elements[1].integer));
  return out;
}

size_t covered(const std::vector<uint16_t>& owners) {
  size_t out = 0;
  for (auto port : owners)
    out += port != 0 ? 1 : 0;
  return out;
}

bool has(const std::vector<uint16_t>& owners, uint16_t port) {
  return std::find(owners.begin(), owners.end(), port) != owners.end();
}

void append(std::string& list, const std::string& item) {
  if (!list.empty())
    list += "; ";
  list += item;
}

std::string read_all(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::unique_ptr<redis_process> start_node(const std::string& dir, size_t i,
                                          std::chrono::milliseconds timeout) {
  // Named after the node's index, not its port: redis_process picks the port
  // only while it starts the server.
  std::vector<std::string> args{
    "--cluster-enabled", "yes",
    "--cluster-config-file", fmt::format("{}/nodes-{}.conf", dir, i),
    "--cluster-node-timeout", std::to_string(timeout.count()),
    "--dir", dir,
    // A replica waits 5 s by default before its first sync, for others to
    // share it.
    "--repl-diskless-sync-delay", "0",
    // CLUSTER SLOTS leaves out a replica at replication offset 0, which an
    // idle primary raises with its replication PING only (10 s by default).
    "--repl-ping-replica-period", "1",
    "--loglevel", "notice",
    "--logfile", fmt::format("{}/node-{}.log", dir, i)};
  // A node exits at start when port + 10000, its cluster bus, is taken or
  // above 65535; redis_process then tries other ports, and so do we.
  for (int attempt = 1;; ++attempt) {
    try {
      return std::make_unique<redis_process>(args);
    } catch (const std::runtime_error& e) {
      if (attempt == 4)
        throw std::runtime_error(fmt::format(
          "cluster node {} did not start (also not on other ports): {}", i,
          e.what()));
    }
  }
}

} // namespace

// -- initialization -----------------------------------------------------------

redis_cluster::redis_cluster(size_t primaries, size_t replicas_per_primary,
                             std::chrono::milliseconds node_timeout) {
  if (primaries == 0 || (primaries < 3 && replicas_per_primary > 0))
    throw std::runtime_error("a Redis Cluster of 1 or 2 primaries is made "
                             "without replicas here; 3 or more take any");
  char dir[] = "/tmp/cafcache-cluster-XXXXXX";
  if (::mkdtemp(dir) == nullptr)
    throw std::runtime_error("cannot create a directory for the cluster");
  dir_ = dir;
  try {
    for (size_t i = 0; i < primaries * (1 + replicas_per_primary); ++i)
      nodes_.push_back(start_node(dir_, i, node_timeout));
    auto deadline = clock_type::now() + ready_timeout;
    if (primaries < 3)
      assign_by_hand();
    else
      create(replicas_per_primary, deadline);
    for (;;) {
      auto missing = unhealthy();
      append(missing, unready_replicas());
      auto masters = this->primaries().size();
      if (masters != primaries)
        append(missing, fmt::format("{} nodes say master, not {}", masters,
                                    primaries));
      if (missing.empty())
        return;
      if (clock_type::now() >= deadline)
        throw std::runtime_error(
          fmt::format("the Redis Cluster was not ready within 30 s: {}",
                      missing));
      std::this_thread::sleep_for(poll_interval);
    }
  } catch (...) {
    nodes_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

redis_cluster::~redis_cluster() {
  nodes_.clear();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void redis_cluster::create(size_t replicas_per_primary,
                           clock_type::time_point deadline) {
  std::vector<std::string> args{"redis-cli", "--cluster", "create"};
  for (auto& x : nodes_)
    args.push_back(fmt::format("127.0.0.1:{}", x->port()));
  args.insert(args.end(), {"--cluster-replicas",
                           std::to_string(replicas_per_primary),
                           "--cluster-yes"});
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  auto log = dir_ + "/create.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  auto rc = posix_spawnp(&pid, "redis-cli", &actions, nullptr, argv.data(),
                         environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error(fmt::format("cannot run redis-cli: error {}", rc));
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (clock_type::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw std::runtime_error(
        fmt::format("redis-cli --cluster create did not finish within 30 s; "
                    "it said: {}",
                    read_all(log)));
    }
    std::this_thread::sleep_for(poll_interval);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(
      fmt::format("redis-cli --cluster create failed; it said: {}",
                  read_all(log)));
}

void redis_cluster::assign_by_hand() {
  // redis-cli --cluster create refuses fewer than 3 masters; a benchmark
  // that compares 1, 2 and 3 primaries splits the slots itself.
  auto n = nodes_.size();
  for (size_t i = 0; i < n; ++i) {
    auto first = i * slot_count / n;
    auto last = (i + 1) * slot_count / n - 1;
    auto r = command(i, {"CLUSTER", "ADDSLOTSRANGE", std::to_string(first),
                         std::to_string(last)});
    if (r.is_error())
      throw std::runtime_error("CLUSTER ADDSLOTSRANGE failed: " + r.str);
    if (i > 0)
      command(0, {"CLUSTER", "MEET", "127.0.0.1",
                  std::to_string(nodes_[i]->port())});
  }
}

// -- properties ---------------------------------------------------------------

std::string redis_cluster::url() const {
  std::string out = "redis-cluster://";
  for (size_t i = 0; i < nodes_.size(); ++i)
    out += fmt::format("{}127.0.0.1:{}", i > 0 ? "," : "", nodes_[i]->port());
  return out;
}

std::vector<host_port> redis_cluster::seeds() const {
  std::vector<host_port> out;
  for (auto& x : nodes_)
    out.push_back({"127.0.0.1", x->port()});
  return out;
}

// -- live questions -----------------------------------------------------------

resp_value redis_cluster::command(size_t i,
                                  const std::vector<std::string>& argv) const {
  return nodes_.at(i)->command(argv);
}

std::vector<size_t> redis_cluster::primaries() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->pid() < 0)
      continue;
    try {
      auto role = command(i, {"ROLE"});
      if (!role.elements.empty() && role.elements[0].str == "master")
        out.push_back(i);
    } catch (const std::runtime_error&) {
      // Not answering: not a primary anyone can use now.
    }
  }
  return out;
}

std::optional<size_t> redis_cluster::replica_of(size_t primary) const {
  auto port = nodes_.at(primary)->port();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (i == primary || nodes_[i]->pid() < 0)
      continue;
    try {
      // ["slave", master ip, master port, state, offset]
      auto role = command(i, {"ROLE"});
      if (role.elements.size() >= 3 && role.elements[0].str == "slave"
          && role.elements[2].type == resp_value::kind::integer
          && role.elements[2].integer == port)
        return i;
    } catch (const std::runtime_error&) {
      // Not answering: not a replica anyone can fail over to.
    }
  }
  return std::nullopt;
}

size_t redis_cluster::owner_of(uint16_t slot) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->pid() < 0)
      continue;
    std::vector<uint16_t> owners;
    try {
      owners = owner_ports(command(i, {"CLUSTER", "SLOTS"}));
    } catch (const std::runtime_error&) {
      continue;
    }
    auto port = owners.at(slot % slot_count);
    for (size_t j = 0; j < nodes_.size(); ++j)
      if (nodes_[j]->port() == port)
        return j;
    throw std::runtime_error(
      fmt::format("node {} names no node of the cluster for slot {} (port {})",
                  i, slot, port));
  }
  throw std::runtime_error("no node of the cluster answers CLUSTER SLOTS");
}

// -- waiting ------------------------------------------------------------------

std::string redis_cluster::unhealthy() const {
  std::string out;
  std::vector<uint16_t> reference;
  size_t reference_node = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->pid() < 0)
      continue;
    auto name = fmt::format("node {} (port {})", i, nodes_[i]->port());
    try {
      auto info = command(i, {"CLUSTER", "INFO"}).str;
      if (info.find("cluster_state:ok") == std::string::npos)
        append(out, name + " says cluster_state is not ok");
      auto owners = owner_ports(command(i, {"CLUSTER", "SLOTS"}));
      if (auto n = covered(owners); n != slot_count)
        append(out, fmt::format("{} knows the primary of {} of 16384 slots",
                                name, n));
      if (reference.empty()) {
        reference = std::move(owners);
        reference_node = i;
      } else if (owners != reference) {
        append(out, fmt::format("{} and node {} name different primaries",
                                name, reference_node));
      }
    } catch (const std::runtime_error&) {
      append(out, name + " does not answer");
    }
  }
  return out;
}

std::string redis_cluster::unready_replicas() const {
  std::string out;
  std::vector<size_t> replicas;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->pid() < 0)
      continue;
    auto name = fmt::format("node {} (port {})", i, nodes_[i]->port());
    try {
      auto role = command(i, {"ROLE"});
      if (role.elements.empty() || role.elements[0].str != "slave")
        continue;
      replicas.push_back(i);
      auto info = command(i, {"INFO", "replication"}).str;
      if (info.find("master_link_status:up") == std::string::npos)
        append(out, name + " has no link to its primary yet");
    } catch (const std::runtime_error&) {
      append(out, name + " does not answer");
    }
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->pid() < 0)
      continue;
    try {
      auto listed = replica_ports(command(i, {"CLUSTER", "SLOTS"}));
      for (auto r : replicas)
        if (!has(listed, nodes_[r]->port()))
          append(out, fmt::format("node {} does not list replica node {} in "
                                  "CLUSTER SLOTS yet",
                                  i, r));
    } catch (const std::runtime_error&) {
      append(out, fmt::format("node {} does not answer", i));
    }
  }
  return out;
}

void redis_cluster::wait_healthy(std::chrono::milliseconds limit) const {
  auto deadline = clock_type::now() + limit;
  for (;;) {
    auto missing = unhealthy();
    if (missing.empty())
      return;
    if (clock_type::now() >= deadline)
      throw std::runtime_error(
        fmt::format("the Redis Cluster was not healthy within {} ms: {}",
                    limit.count(), missing));
    std::this_thread::sleep_for(poll_interval);
  }
}

void redis_cluster::failover(size_t replica) {
  auto name = fmt::format("node {} (port {})", replica,
                          nodes_.at(replica)->port());
  auto role = command(replica, {"ROLE"});
  if (role.elements.empty() || role.elements[0].str != "slave")
    throw std::runtime_error(name + " is no replica");
  auto ask = [&] {
    auto reply = command(replica, {"CLUSTER", "FAILOVER"});
    if (reply.is_error())
      throw std::runtime_error(
        fmt::format("{} refused CLUSTER FAILOVER: {}", name, reply.str));
  };
  ask();
  auto port = nodes_[replica]->port();
  auto deadline = clock_type::now() + ready_timeout;
  auto next_ask = clock_type::now() + failover_retry;
  for (;;) {
    std::string missing;
    auto now_role = command(replica, {"ROLE"});
    bool promoted = !now_role.elements.empty()
                    && now_role.elements[0].str == "master";
    if (!promoted)
      missing = name + " does not say master yet";
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->pid() < 0)
        continue;
      try {
        if (!has(owner_ports(command(i, {"CLUSTER", "SLOTS"})), port))
          append(missing, fmt::format("node {} does not name it a primary", i));
      } catch (const std::runtime_error&) {
        append(missing, fmt::format("node {} does not answer", i));
      }
    }
    append(missing, unhealthy());
    if (missing.empty())
      return;
    auto now = clock_type::now();
    if (now >= deadline)
      throw std::runtime_error(
        fmt::format("{} was not promoted within 30 s: {}", name, missing));
    if (!promoted && now >= next_ask) {
      ask();
      next_ask = now + failover_retry;
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

} // namespace cafcache
