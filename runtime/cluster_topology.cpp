#include "runtime/cluster_topology.hpp"

#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "messages/errc.hpp"
#include "runtime/sync_redis.hpp"

namespace cafcache {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// What asking one node came to, from best to worst but for `unreachable`,
// which the others outrank when they tell more.
enum class verdict {
  // A slot map that covers at least one slot.
  map,
  // The node refused the credentials, or wanted some.
  refused,
  // The node is a plain Redis, not in cluster mode.
  not_cluster,
  // An error reply, or a reply that is no slot map.
  error,
  // A slot map that covers no slot: the node has not joined a cluster yet.
  empty,
  // No connection, or no answer in time.
  unreachable,
};

verdict ask_node(const host_port& at, const std::string& user,
                 const std::string& password, const timeval& tv,
                 slot_map& out, std::string& why) {
  redis_context_ptr c{redisConnectWithTimeout(at.host.c_str(), at.port, tv)};
  if (!c || c->err != 0) {
    why = c ? c->errstr : "out of memory";
    return verdict::unreachable;
  }
  redisSetTimeout(c.get(), tv);
  if (!password.empty()) {
    auto auth = user.empty()
                  ? sync_command(c.get(), {"AUTH", password})
                  : sync_command(c.get(), {"AUTH", user, password});
    if (!auth) {
      why = c->errstr;
      return verdict::unreachable;
    }
    if (auth->type == REDIS_REPLY_ERROR) {
      why.assign(auth->str, auth->len);
      return verdict::refused;
    }
  }
  auto reply = sync_command(c.get(), {"CLUSTER", "SLOTS"});
  if (!reply) {
    why = c->errstr;
    return verdict::unreachable;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    why.assign(reply->str, reply->len);
    if (starts_with(why, "NOAUTH") || starts_with(why, "WRONGPASS"))
      return verdict::refused;
    // "ERR This instance has cluster support disabled"
    if (why.find("cluster support disabled") != std::string::npos)
      return verdict::not_cluster;
    return verdict::error;
  }
  auto map = slot_map::from_cluster_slots(to_resp_value(*reply), at);
  if (!map) {
    why = detail_of(map.error());
    return verdict::error;
  }
  if (map->assigned() == 0) {
    why = "it serves no slot yet";
    return verdict::empty;
  }
  out = std::move(*map);
  return verdict::map;
}

} // namespace

caf::expected<slot_map> fetch_slot_map(const std::vector<host_port>& hosts,
                                       const std::string& user,
                                       const std::string& password,
                                       std::chrono::milliseconds timeout) {
  if (hosts.empty())
    return make_error(errc::bad_config,
                      "no Redis Cluster node to ask for the slot map");
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  std::optional<slot_map> partial;
  auto worst = verdict::unreachable;
  std::string list;
  for (auto& at : hosts) {
    slot_map map;
    std::string why;
    auto x = ask_node(at, user, password, tv, map, why);
    if (x == verdict::map) {
      if (map.covers_all())
        return map;
      if (!partial || map.assigned() > partial->assigned())
        partial = std::move(map);
      continue;
    }
    if (x < worst)
      worst = x;
    if (!list.empty())
      list += ", ";
    list += fmt::format("{} ({})", address_of(at), why);
  }
  if (partial)
    return std::move(*partial);
  switch (worst) {
    case verdict::refused:
      return make_error(errc::auth_failed,
                        fmt::format("a Redis Cluster node refused the user "
                                    "and password, or wanted some (asked {})",
                                    list));
    case verdict::not_cluster:
      return make_error(errc::bad_config,
                        fmt::format("a node given as a Redis Cluster node is "
                                    "not in cluster mode (cluster-enabled "
                                    "no); a single server takes a redis:// "
                                    "URL (asked {})",
                                    list));
    case verdict::error:
      return make_error(errc::redis_error,
                        fmt::format("no Redis Cluster node answered CLUSTER "
                                    "SLOTS with a slot map (asked {})",
                                    list));
    case verdict::empty:
      return make_error(errc::redis_unavailable,
                        fmt::format("no Redis Cluster node serves any slot "
                                    "yet (asked {})",
                                    list));
    default:
      return make_error(errc::redis_unavailable,
                        fmt::format("no Redis Cluster node reachable (tried "
                                    "{})",
                                    list));
  }
}

} // namespace cafcache
