#pragma once

#include <optional>
#include <string_view>

#include "messages/jobs.hpp"
#include "messages/types.hpp"
#include "runtime/resp.hpp"

namespace cafcache {

/// What Redis' reply to a GET means: one rule for every connection that
/// answers gets and for the cache's own lookups.
struct get_reading {
  /// Redis failed (an error reply, or a reply a GET cannot have): the
  /// fallback answers instead; `kind` and `answer` are unused.
  bool failed = false;
  served_kind kind = served_kind::nil;
  /// The client's answer, from tier Redis and never stale.
  get_result answer;
};

/// Reads the reply of `GET key`. A string is decoded as an envelope; the
/// envelope stays in `reply.str` for the mirror.
get_reading read_get_reply(const resp_value& reply);

/// What the fallback's entry (`stored`, nullopt when it has none) means for
/// a get: a value, always marked stale (it may be older than Redis);
/// anything else a miss, marked stale when Redis failed the request.
/// `failed` is never set; `kind` is fallback_hit or fallback_miss.
get_reading read_fallback_entry(std::optional<std::string_view> stored,
                                bool redis_failed);

} // namespace cafcache
