#include "runtime/commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace cafcache::commands {

const char* const set_tagged_script = R"lua(
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return redis.status_reply('OK')
)lua";

const char* const invalidate_tag_script = R"lua(
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members, 1000 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 999, #members)))
end
redis.call('UNLINK', KEYS[1])
return #members
)lua";

std::string ttl_millis(caf::timespan ttl) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  return std::to_string(std::max<int64_t>(ms, 1));
}

std::string tag_set_key(std::string_view prefix, std::string_view tag) {
  std::string out;
  out.reserve(prefix.size() + 1 + tag.size());
  out.append(prefix);
  out += reserved_byte;
  out.append(tag);
  return out;
}

std::vector<std::string> set(std::string_view prefix, std::string_view key,
                             std::string stored, caf::timespan ttl,
                             const std::vector<std::string>& tags) {
  std::string redis_key{prefix};
  redis_key.append(key);
  if (tags.empty())
    return {"SET", std::move(redis_key), std::move(stored), "PX",
            ttl_millis(ttl)};
  std::vector<std::string> argv;
  argv.reserve(6 + tags.size());
  argv.emplace_back("EVAL");
  argv.emplace_back(set_tagged_script);
  argv.emplace_back(std::to_string(1 + tags.size()));
  argv.push_back(std::move(redis_key));
  for (auto& tag : tags)
    argv.push_back(tag_set_key(prefix, tag));
  argv.push_back(std::move(stored));
  argv.push_back(ttl_millis(ttl));
  return argv;
}

std::vector<std::string> invalidate_tag(std::string_view prefix,
                                        std::string_view tag) {
  return {"EVAL", invalidate_tag_script, "1", tag_set_key(prefix, tag)};
}

} // namespace cafcache::commands
