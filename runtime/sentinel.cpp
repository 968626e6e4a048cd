#include "runtime/sentinel.hpp"

#include <charconv>
#include <fmt/format.h>

#include "messages/errc.hpp"
#include "runtime/sync_redis.hpp"

namespace cafcache {

caf::expected<host_port>
choose_master(const redis_endpoint& ep,
              const std::vector<sentinel_answer>& answers) {
  const sentinel_answer* best = nullptr;
  bool any_answered = false;
  bool any_refused = false;
  for (auto& x : answers) {
    if (x.what == sentinel_answer::kind::master
        && (best == nullptr || x.epoch > best->epoch))
      best = &x;
    any_answered |= x.what == sentinel_answer::kind::unknown_name;
    any_refused |= x.what == sentinel_answer::kind::auth_refused;
  }
  if (best != nullptr)
    return best->address;
  std::string list;
  for (size_t i = 0; i < answers.size() && i < ep.sentinels.size(); ++i) {
    if (i > 0)
      list += ", ";
    list += address_of(ep.sentinels[i]);
    if (!answers[i].error.empty())
      list += fmt::format(" ({})", answers[i].error);
  }
  if (any_refused)
    return make_error(errc::auth_failed,
                      fmt::format("a Sentinel refused "
                                  "cafcache.sentinel-user/-password (asked "
                                  "{})",
                                  list));
  if (any_answered)
    return make_error(errc::redis_unavailable,
                      fmt::format("no Sentinel knows the master name '{}' "
                                  "(asked {})",
                                  ep.master_name, list));
  return make_error(errc::redis_unavailable,
                    fmt::format("no Sentinel reachable (tried {})", list));
}

sentinel_answer ask_sentinel(const redis_endpoint& ep, const host_port& at,
                             std::chrono::milliseconds timeout) {
  sentinel_answer out;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  redis_context_ptr c{redisConnectWithTimeout(at.host.c_str(), at.port, tv)};
  if (!c || c->err != 0) {
    out.error = c ? c->errstr : "out of memory";
    return out;
  }
  redisSetTimeout(c.get(), tv);
  if (!ep.sentinel_password.empty()) {
    auto auth = ep.sentinel_user.empty()
                  ? sync_command(c.get(), {"AUTH", ep.sentinel_password})
                  : sync_command(c.get(), {"AUTH", ep.sentinel_user,
                                           ep.sentinel_password});
    if (!auth) {
      out.error = c->errstr;
      return out;
    }
    if (auth->type == REDIS_REPLY_ERROR) {
      out.what = sentinel_answer::kind::auth_refused;
      out.error = auth->str;
      return out;
    }
  }
  auto reply = sync_command(c.get(), {"SENTINEL", "MASTER", ep.master_name});
  if (!reply) {
    out.error = c->errstr;
    return out;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    // "ERR No such master with that name"
    if (std::string_view{reply->str, reply->len}.find("No such master")
        != std::string_view::npos)
      out.what = sentinel_answer::kind::unknown_name;
    else
      out.error = reply->str;
    return out;
  }
  if (reply->type != REDIS_REPLY_ARRAY) {
    out.error = "an answer that is not a list of fields";
    return out;
  }
  std::string_view ip;
  std::string_view port_text;
  std::string_view epoch_text;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    auto key = reply->element[i];
    auto value = reply->element[i + 1];
    if (key->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
      continue;
    auto name = std::string_view{key->str, key->len};
    auto text = std::string_view{value->str, value->len};
    if (name == "ip")
      ip = text;
    else if (name == "port")
      port_text = text;
    else if (name == "config-epoch")
      epoch_text = text;
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (ip.empty() || ec != std::errc{}
      || ptr != port_text.data() + port_text.size() || port == 0
      || port > 65535) {
    out.error = "an answer without the master's ip and port";
    return out;
  }
  std::from_chars(epoch_text.data(), epoch_text.data() + epoch_text.size(),
                  out.epoch);
  out.what = sentinel_answer::kind::master;
  out.address.host = ip;
  out.address.port = static_cast<uint16_t>(port);
  return out;
}

caf::expected<host_port> resolve_master(const redis_endpoint& ep,
                                        std::chrono::milliseconds timeout) {
  std::vector<sentinel_answer> answers;
  for (auto& at : ep.sentinels)
    answers.push_back(ask_sentinel(ep, at, timeout));
  return choose_master(ep, answers);
}

} // namespace cafcache
