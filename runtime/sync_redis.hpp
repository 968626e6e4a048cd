#pragma once

#include <memory>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>

#include "runtime/resp.hpp"

namespace cafcache {

/// hiredis' synchronous client as the module's short questions use it (the
/// Sentinels for the master, a cluster node for the slot map), on threads
/// of their own: never on a scheduler thread.
struct redis_context_deleter {
  void operator()(redisContext* c) const noexcept {
    redisFree(c);
  }
};

struct redis_reply_deleter {
  void operator()(redisReply* r) const noexcept {
    freeReplyObject(r);
  }
};

using redis_context_ptr = std::unique_ptr<redisContext, redis_context_deleter>;
using redis_reply_ptr = std::unique_ptr<redisReply, redis_reply_deleter>;

/// Runs one command (binary-safe argv); null when the connection failed.
redis_reply_ptr sync_command(redisContext* c,
                             const std::vector<std::string>& argv);

/// A copy of a hiredis reply tree, which callers keep past freeReplyObject
/// and pass through CAF messages.
resp_value to_resp_value(const redisReply& in);

} // namespace cafcache
