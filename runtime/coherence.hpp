#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cafcache {

/// Cross-node coherence of the fallbacks.
///
/// Every cache that writes to Redis also publishes what it changed on the
/// channel `prefix 0xFF "invalidations"`; every other cache on the same
/// Redis and prefix subscribes there and erases what it hears from its own
/// fallback. A message names a key, a tag, or "everything" (after a
/// namespace flush), and the node that sent it, so a node skips its own.
namespace coherence {

/// What an invalidation message covers.
enum class scope : uint8_t {
  key = 'k',
  tag = 't',
  all = 'a',
};

/// One decoded message.
struct message {
  uint64_t node = 0;
  coherence::scope scope = scope::key;
  /// The keys (one or more) of a key message, the tag of a tag message;
  /// empty for "everything".
  std::vector<std::string> names;
};

/// The channel of the caches under `prefix`.
std::string channel(std::string_view prefix);

/// Node id (8 bytes, big-endian), scope byte, then the key or tag.
std::string encode(uint64_t node, scope what, std::string_view name);

/// Most keys in one message of several keys, and most bytes of keys in it
/// (unless one key alone is longer).
constexpr size_t max_keys_per_message = 256;
constexpr size_t max_key_bytes_per_message = 64 * 1024;

/// Whether a message already naming `keys` keys of `bytes` bytes must be
/// sent before a key of `next_bytes` bytes joins it.
constexpr bool message_full(size_t keys, size_t bytes, size_t next_bytes) {
  return keys >= max_keys_per_message
         || (keys > 0 && bytes + next_bytes > max_key_bytes_per_message);
}

/// One message for several keys written together (one `PUBLISH` instead of
/// one per write): node id, the byte `K`, then for each key its length (4
/// bytes, big-endian) and its bytes. A single key gets the `k` form.
std::string encode_keys(uint64_t node, const std::vector<std::string>& keys);

/// The message in `payload`, or nullopt for anything malformed.
std::optional<message> decode(std::string_view payload);

/// Whether `payload` was published by `node` (its own messages, which a
/// subscribed connection drops without decoding).
bool sent_by(std::string_view payload, uint64_t node);

/// Decides whether a value read from (or written to) Redis may still be
/// copied into the fallback: not when an invalidation from another node
/// arrived while the request was in flight, because the reply may carry the
/// value that invalidation removed. Keys are hashed into a fixed number of
/// buckets, so memory stays constant; a collision only skips a copy.
class mirror_guard {
public:
  /// Ticket of a request: take it when the request starts.
  uint64_t ticket() const noexcept {
    return seq_;
  }

  /// An invalidation of `key` arrived.
  void invalidated(std::string_view key);

  /// An invalidation of unknown keys arrived (a tag, a flush, or a gap in
  /// the subscription).
  void invalidated_all();

  /// True when no invalidation that may cover `key` arrived since `ticket`.
  bool may_mirror(std::string_view key, uint64_t ticket) const;

private:
  static constexpr size_t buckets = 1024;

  size_t bucket(std::string_view key) const;

  uint64_t seq_ = 0;
  uint64_t all_ = 0;
  std::array<uint64_t, buckets> last_{};
};

} // namespace coherence

} // namespace cafcache
