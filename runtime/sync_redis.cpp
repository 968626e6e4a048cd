#include "runtime/sync_redis.hpp"

namespace cafcache {

redis_reply_ptr sync_command(redisContext* c,
                             const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (auto& x : argv) {
    args.push_back(x.data());
    lengths.push_back(x.size());
  }
  return redis_reply_ptr{static_cast<redisReply*>(
    redisCommandArgv(c, static_cast<int>(args.size()), args.data(),
                     lengths.data()))};
}

resp_value to_resp_value(const redisReply& in) {
  resp_value out;
  switch (in.type) {
    case REDIS_REPLY_STRING:
      out.type = resp_value::kind::string;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = resp_value::kind::status;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = resp_value::kind::error;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = resp_value::kind::integer;
      out.integer = in.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = resp_value::kind::array;
      out.elements.reserve(in.elements);
      for (size_t i = 0; i < in.elements; ++i)
        out.elements.emplace_back(to_resp_value(*in.element[i]));
      break;
    default:
      // REDIS_REPLY_NIL is the only remaining type hiredis 0.14 creates.
      break;
  }
  return out;
}

} // namespace cafcache
