#include "runtime/sentinel.hpp"

#include <charconv>
#include <memory>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "messages/errc.hpp"

namespace cafcache {

namespace {

std::string address_text(const host_port& x) {
  return x.host.find(':') != std::string::npos
           ? fmt::format("[{}]:{}", x.host, x.port)
           : fmt::format("{}:{}", x.host, x.port);
}

struct context_deleter {
  void operator()(redisContext* c) const {
    redisFree(c);
  }
};

struct reply_deleter {
  void operator()(redisReply* r) const {
    freeReplyObject(r);
  }
};

using context_ptr = std::unique_ptr<redisContext, context_deleter>;
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

reply_ptr command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (auto& x : argv) {
    args.push_back(x.data());
    lengths.push_back(x.size());
  }
  return reply_ptr{static_cast<redisReply*>(
    redisCommandArgv(c, static_cast<int>(args.size()), args.data(),
                     lengths.data()))};
}

} // namespace

caf::expected<host_port>
choose_master(const redis_endpoint& ep,
              const std::vector<sentinel_answer>& answers) {
  std::string asked;
  bool any_answered = false;
  for (auto& x : answers) {
    if (x.what == sentinel_answer::kind::master)
      return x.address;
    any_answered |= x.what == sentinel_answer::kind::unknown_name;
  }
  for (size_t i = 0; i < answers.size() && i < ep.sentinels.size(); ++i) {
    if (i > 0)
      asked += ", ";
    asked += address_text(ep.sentinels[i]);
    if (answers[i].what == sentinel_answer::kind::unreachable)
      asked += fmt::format(" ({})", answers[i].error);
  }
  if (any_answered)
    return make_error(errc::redis_unavailable,
                      fmt::format("no Sentinel knows the master name '{}' "
                                  "(asked {})",
                                  ep.master_name, asked));
  return make_error(errc::redis_unavailable,
                    fmt::format("no Sentinel reachable (tried {})", asked));
}

sentinel_answer ask_sentinel(const redis_endpoint& ep, const host_port& at,
                             std::chrono::milliseconds timeout) {
  sentinel_answer out;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  context_ptr c{redisConnectWithTimeout(at.host.c_str(), at.port, tv)};
  if (!c || c->err != 0) {
    out.error = c ? c->errstr : "out of memory";
    return out;
  }
  redisSetTimeout(c.get(), tv);
  if (!ep.sentinel_password.empty()) {
    auto auth = ep.sentinel_user.empty()
                  ? command(c.get(), {"AUTH", ep.sentinel_password})
                  : command(c.get(), {"AUTH", ep.sentinel_user,
                                      ep.sentinel_password});
    if (!auth || auth->type == REDIS_REPLY_ERROR) {
      out.error = auth ? fmt::format("AUTH refused: {}", auth->str)
                       : std::string{c->errstr};
      return out;
    }
  }
  auto reply = command(c.get(), {"SENTINEL", "get-master-addr-by-name",
                                 ep.master_name});
  if (!reply) {
    out.error = c->errstr;
    return out;
  }
  if (reply->type == REDIS_REPLY_NIL) {
    out.what = sentinel_answer::kind::unknown_name;
    return out;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    out.error = reply->str;
    return out;
  }
  unsigned port = 0;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
      || reply->element[0]->type != REDIS_REPLY_STRING
      || reply->element[1]->type != REDIS_REPLY_STRING) {
    out.error = "an answer that is not [ip, port]";
    return out;
  }
  auto port_text = std::string_view{reply->element[1]->str,
                                    reply->element[1]->len};
  auto [ptr, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || ptr != port_text.data() + port_text.size()
      || port == 0 || port > 65535) {
    out.error = "an answer with a port that is not a number";
    return out;
  }
  out.what = sentinel_answer::kind::master;
  out.address.host.assign(reply->element[0]->str, reply->element[0]->len);
  out.address.port = static_cast<uint16_t>(port);
  return out;
}

caf::expected<host_port> resolve_master(const redis_endpoint& ep,
                                        std::chrono::milliseconds timeout) {
  std::vector<sentinel_answer> answers;
  for (auto& at : ep.sentinels) {
    answers.push_back(ask_sentinel(ep, at, timeout));
    if (answers.back().what == sentinel_answer::kind::master)
      break;
  }
  return choose_master(ep, answers);
}

} // namespace cafcache
