#include "runtime/commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "runtime/cluster_slots.hpp"

namespace cafcache::commands {

static_assert(static_cast<unsigned char>(reserved_byte) == 255,
              "the tag scripts test for the reserved byte as 255");

// Why the tag scripts check what they find: anyone who can write under the
// prefix can put anything at a tag-set key, and a script error would fail
// the write, and every dirty-log replay after it, for good. A tag-set key is
// the cache's own, so a value of another type there is deleted as foreign;
// the tagged set does that before its SET, so it stays all or nothing.

const char* const set_tagged_script = R"lua(
for i = 2, #KEYS do
  local t = redis.call('TYPE', KEYS[i]).ok
  if t ~= 'set' and t ~= 'none' then redis.call('UNLINK', KEYS[i]) end
end
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

// Only a member that names a user key (the prefix ARGV[1], then a byte
// other than 0xFF) is deleted: never a key outside the prefix, nor another
// tag set.
const char* const invalidate_tag_script = R"lua(
local p, keys, foreign = ARGV[1], {}, 0
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'set' then
  for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if #m > #p and m:sub(1, #p) == p and m:byte(#p + 1) ~= 255 then
      keys[#keys + 1] = m
    else
      foreign = foreign + 1
    end
  end
elseif t ~= 'none' then
  foreign = 1
end
local deleted = 0
for i = 1, #keys, 1000 do
  local last = math.min(i + 999, #keys)
  deleted = deleted + redis.call('UNLINK', unpack(keys, i, last))
end
redis.call('UNLINK', KEYS[1])
return {deleted, foreign}
)lua";

int64_t ttl_ms(caf::timespan ttl) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  return std::max<int64_t>(ms, 1);
}

std::string ttl_millis(caf::timespan ttl) {
  return std::to_string(ttl_ms(ttl));
}

std::string tag_set_key(std::string_view prefix, std::string_view tag) {
  std::string out;
  out.reserve(prefix.size() + 1 + tag.size());
  out.append(prefix);
  out += reserved_byte;
  out.append(tag);
  return out;
}

std::string tag_set_key(std::string_view prefix, std::string_view tag,
                        uint16_t slot) {
  auto hash_tag = slot_hash_tag(slot);
  std::string out;
  out.reserve(prefix.size() + 3 + hash_tag.size() + tag.size());
  out.append(prefix);
  out += reserved_byte;
  out += '{';
  out.append(hash_tag);
  out += '}';
  out.append(tag);
  return out;
}

bool is_slot_tag_set(std::string_view prefix, std::string_view tag,
                     std::string_view key) {
  if (key.size() < prefix.size() + 3 || key.substr(0, prefix.size()) != prefix
      || key[prefix.size()] != reserved_byte
      || key[prefix.size() + 1] != '{')
    return false;
  auto rest = key.substr(prefix.size() + 2);
  auto close = rest.find('}');
  return close != std::string_view::npos && close > 0
         && rest.substr(close + 1) == tag;
}

std::string glob_escape(std::string_view x) {
  std::string out;
  out.reserve(x.size());
  for (char c : x) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string slot_tag_sets_pattern(std::string_view prefix,
                                  std::string_view tag) {
  auto out = glob_escape(prefix);
  out += reserved_byte;
  out += "{*}";
  out += glob_escape(tag);
  return out;
}

std::string redis_key(std::string_view prefix, std::string_view key) {
  std::string out;
  out.reserve(prefix.size() + key.size());
  out.append(prefix);
  out.append(key);
  return out;
}

std::vector<std::string> set(std::string_view prefix, std::string_view key,
                             std::string stored, caf::timespan ttl,
                             const std::vector<std::string>& tags,
                             tag_layout layout) {
  auto full = redis_key(prefix, key);
  if (tags.empty())
    return {"SET", std::move(full), std::move(stored), "PX",
            ttl_millis(ttl)};
  std::vector<std::string> argv;
  argv.reserve(6 + tags.size());
  argv.emplace_back("EVAL");
  argv.emplace_back(set_tagged_script);
  argv.emplace_back(std::to_string(1 + tags.size()));
  argv.push_back(std::move(full));
  if (layout == tag_layout::per_slot) {
    auto slot = key_slot(prefix, key);
    for (auto& tag : tags)
      argv.push_back(tag_set_key(prefix, tag, slot));
  } else {
    for (auto& tag : tags)
      argv.push_back(tag_set_key(prefix, tag));
  }
  argv.push_back(std::move(stored));
  argv.push_back(ttl_millis(ttl));
  return argv;
}

std::vector<std::string> invalidate_tag(std::string_view prefix,
                                        std::string_view tag) {
  return invalidate_tag_set(prefix, tag_set_key(prefix, tag));
}

std::vector<std::string> invalidate_tag_set(std::string_view prefix,
                                            std::string set_key) {
  return {"EVAL", invalidate_tag_script, "1", std::move(set_key),
          std::string{prefix}};
}

} // namespace cafcache::commands
