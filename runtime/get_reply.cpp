#include "runtime/get_reply.hpp"

#include "runtime/codec.hpp"

namespace cafcache {

get_reading read_get_reply(const resp_value& reply) {
  get_reading out;
  out.answer.source = tier::redis;
  switch (reply.type) {
    case resp_value::kind::string:
      if (is_negative_envelope(reply.str)) {
        // A cached "the loader found nothing": a miss, not a broken value.
        out.kind = served_kind::negative;
      } else if (auto value = decode_envelope(reply.str)) {
        out.kind = served_kind::hit;
        out.answer.found = true;
        out.answer.value = std::move(*value);
      } else {
        out.kind = served_kind::undecodable;
      }
      return out;
    case resp_value::kind::nil:
      out.kind = served_kind::nil;
      return out;
    case resp_value::kind::error:
      // Another client's key of another type under our prefix is foreign
      // data, not a failing Redis.
      if (reply.str.compare(0, 9, "WRONGTYPE") == 0) {
        out.kind = served_kind::undecodable;
        return out;
      }
      break;
    default:
      break;
  }
  out.failed = true;
  return out;
}

get_reading read_fallback_entry(std::optional<std::string_view> stored,
                                bool redis_failed) {
  get_reading out;
  out.answer.source = tier::fallback;
  if (stored) {
    if (auto value = decode_envelope(*stored)) {
      out.kind = served_kind::fallback_hit;
      out.answer.found = true;
      out.answer.value = std::move(*value);
      out.answer.stale = true;
      return out;
    }
  }
  out.kind = served_kind::fallback_miss;
  out.answer.stale = redis_failed;
  return out;
}

} // namespace cafcache
