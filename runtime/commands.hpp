#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/timespan.hpp>

namespace cafcache {

/// The Redis commands the cache sends for its writes, built in one place so
/// that the Redis connection and the in-process null backend agree on them.
///
/// Key layout under the prefix P: a user key K is stored at `P K`; the set of
/// keys carrying tag T is `P \xFF T`. On a Redis Cluster a tag has one set
/// per slot, next to its values: the keys of slot S carrying tag T are in
/// `P \xFF { H } T`, where H is `slot_hash_tag(S)`, so a tagged set is one
/// script on one slot. User keys must therefore not start with the byte 0xFF
/// (never part of UTF-8 text); the cache refuses them.
namespace commands {

/// First byte of the module's own keys below the prefix.
constexpr char reserved_byte = '\xFF';

/// Lua run by EVAL for a tagged set: stores KEYS[1] with ARGV[1] for ARGV[2]
/// milliseconds, adds it to every tag set KEYS[2..], and keeps each tag set
/// alive at least as long as its newest member. A tag-set key that holds
/// another type (written by someone else) is deleted first. Returns OK.
extern const char* const set_tagged_script;

/// Lua run by EVAL for invalidate_tag: deletes the members of the tag set
/// KEYS[1] that name a user key under the prefix ARGV[1], and the set itself.
/// Returns the array {keys deleted, foreign entries skipped}: members outside
/// the prefix or naming a reserved key, or 1 for a tag-set key of another
/// type (deleted too). Fails only when Redis does.
extern const char* const invalidate_tag_script;

/// The TTL as Redis PX milliseconds, at least 1.
int64_t ttl_ms(caf::timespan ttl);

/// `ttl_ms` as the text of a command argument.
std::string ttl_millis(caf::timespan ttl);

/// The Redis key of a user's `key`: the prefix, then the key. A Redis
/// Cluster places it by this whole string, so a hash tag in the key
/// (`{user42}:cart`) keeps keys together when the prefix has no braces.
std::string redis_key(std::string_view prefix, std::string_view key);

/// Where the set of keys carrying `tag` lives.
std::string tag_set_key(std::string_view prefix, std::string_view tag);

/// Where the set of the keys of `slot` carrying `tag` lives on a Redis
/// Cluster (in that slot when `hash_tag_closed(prefix)`).
std::string tag_set_key(std::string_view prefix, std::string_view tag,
                        uint16_t slot);

/// True when `key` is a tag set of `tag` in the Cluster layout, of any slot.
bool is_slot_tag_set(std::string_view prefix, std::string_view tag,
                     std::string_view key);

/// Where the tag sets of a key live.
enum class tag_layout : uint8_t {
  /// One set per tag (a single Redis).
  single,
  /// One set per tag and slot, in the slot of its keys (a Redis Cluster).
  per_slot,
};

/// SET with PX, or the tagged-set script when `tags` is not empty.
std::vector<std::string> set(std::string_view prefix, std::string_view key,
                             std::string stored, caf::timespan ttl,
                             const std::vector<std::string>& tags,
                             tag_layout layout = tag_layout::single);

/// The invalidate_tag script for `tag`, confined to `prefix`.
std::vector<std::string> invalidate_tag(std::string_view prefix,
                                        std::string_view tag);

/// The invalidate_tag script for the tag set at `set_key`.
std::vector<std::string> invalidate_tag_set(std::string_view prefix,
                                            std::string set_key);

/// `x` with the glob characters of SCAN MATCH escaped: it matches itself.
std::string glob_escape(std::string_view x);

/// The SCAN MATCH pattern of every slot's tag set of `tag` (it may match
/// more: `is_slot_tag_set` decides).
std::string slot_tag_sets_pattern(std::string_view prefix,
                                  std::string_view tag);

} // namespace commands

} // namespace cafcache
