#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "runtime/redis_url.hpp"
#include "runtime/resp.hpp"

namespace cafcache {

/// The number of hash slots of a Redis Cluster: every key belongs to one.
constexpr uint16_t cluster_slot_count = 16384;

/// CRC16-XMODEM (polynomial 0x1021, initial value 0, no reflection), the
/// checksum Redis Cluster hashes keys with; "123456789" gives 0x31C3.
uint16_t crc16(std::string_view data);

/// The hash slot of `key` (0 to 16383) by the Cluster spec's hash-tag rule:
/// when the key has a `{` and, after it, a `}` with at least one byte
/// between them, only those bytes are hashed; otherwise the whole key is.
/// So `foo{}{bar}` hashes whole, `foo{{bar}}zap` hashes `{bar`, and
/// `foo{bar}{zap}` hashes `bar`.
uint16_t key_slot(std::string_view key);

/// `key_slot` of `prefix` followed by `key`, without building that string
/// (the hot path of the cache actor).
uint16_t key_slot(std::string_view prefix, std::string_view key);

/// A short text of letters and digits (no brace) whose slot is `slot`: a
/// key with `{` this `}` as its first hash tag lives in `slot`. The same
/// text for the same slot everywhere (the shortest, the first in the order
/// of digits, then upper, then lower letters). Used to place a tag set in
/// the slot of the value it belongs to.
std::string_view slot_hash_tag(uint16_t slot);

/// True when every key that starts with `prefix` gets its hash tag (or none)
/// independently of what follows the prefix' own braces: the prefix has no
/// `{`, or its first `{` is closed inside the prefix with at least one byte
/// between. Only then can a key built as `prefix`, other bytes, then
/// `{slot_hash_tag(s)}` be placed in slot `s` at will.
bool hash_tag_closed(std::string_view prefix);

/// A `MOVED` or `ASK` error reply: the node to send a key's command to.
struct cluster_redirect {
  /// Which redirect it is.
  enum class kind : uint8_t {
    /// The slot lives on `target` for good: remember it and refetch the map.
    moved,
    /// The slot is migrating: send this one command to `target` after
    /// `ASKING`, and leave the slot map alone.
    ask,
  };

  /// MOVED or ASK.
  kind what = kind::moved;

  /// The hash slot the reply is about.
  uint16_t slot = 0;

  /// The node that serves the slot.
  host_port target;
};

/// Parses the text of an error reply, without the leading '-', such as
/// `MOVED 3999 127.0.0.1:6381` or `ASK 3999 [::1]:6381`. The last ':' ends
/// the host, so `::1:6381` names host `::1`; an empty host (`:6381`) means
/// the host of `asked`, the node that answered. Returns std::nullopt for
/// any other error, and for a redirect that is malformed, names a slot
/// above 16383, port 0 or a port above 65535, or the unknown endpoint `?`.
std::optional<cluster_redirect> parse_redirect(std::string_view error_reply,
                                               const host_port& asked);

/// Which primary serves each hash slot, as one node of a Redis Cluster
/// sees it, plus the replicas it names for each primary (further nodes to
/// ask for the topology). A default-constructed map has no nodes and no
/// slot assigned.
class slot_map {
public:
  // -- initialization ---------------------------------------------------------

  /// A map with no nodes and every slot unassigned.
  slot_map();

  /// Parses a `CLUSTER SLOTS` reply, an array of
  /// `[start, end, [ip, port, id, ...], replica...]` entries, where `asked`
  /// is the node that answered: an empty or NULL ip means its host. Fields
  /// after the port and entries after the replicas are ignored, and so is a
  /// replica whose ip is the unknown endpoint `?`; the slots of a primary
  /// whose ip is `?` stay unassigned. Returns `errc::redis_error` with a
  /// sentence for an error reply, for anything that is not such an array
  /// and for a slot that two entries claim.
  static caf::expected<slot_map> from_cluster_slots(const resp_value& reply,
                                                    const host_port& asked);

  // -- properties -------------------------------------------------------------

  /// The primaries, in the order they first appeared; `owner` indexes it.
  const std::vector<host_port>& primaries() const noexcept {
    return primaries_;
  }

  /// The replicas named for `primary` (an index into `primaries()`); empty
  /// for an index out of range.
  const std::vector<host_port>& replicas(size_t primary) const;

  /// Every node named: the primaries first, then their replicas, each once.
  std::vector<host_port> nodes() const;

  /// The index into `primaries()` of the primary that serves `slot`, or
  /// std::nullopt when the slot is unassigned or above 16383.
  std::optional<size_t> owner(uint16_t slot) const;

  /// The number of slots that have a primary.
  size_t assigned() const noexcept {
    return assigned_;
  }

  /// True when every one of the 16384 slots has a primary.
  bool covers_all() const noexcept {
    return assigned_ == cluster_slot_count;
  }

  /// The index of `primary` in `primaries()`, or std::nullopt when it is not
  /// one of them. Hosts compare as text.
  std::optional<size_t> index_of(const host_port& primary) const;

  // -- modifiers --------------------------------------------------------------

  /// Lets `primary` serve `slot`, adding it to the primaries when it is new:
  /// what a MOVED reply says. Does nothing for a slot above 16383.
  void assign(uint16_t slot, const host_port& primary);

  // -- comparison -------------------------------------------------------------

  /// True when both maps give every slot a primary of the same address (or
  /// none), and give each primary that serves a slot the same replicas;
  /// the order of `primaries()` does not matter.
  friend bool operator==(const slot_map& x, const slot_map& y);

  /// The negation of `==`.
  friend bool operator!=(const slot_map& x, const slot_map& y) {
    return !(x == y);
  }

private:
  // Adds `primary` when new; returns its index.
  size_t add_primary(const host_port& primary);

  std::vector<host_port> primaries_;
  // Parallel to primaries_.
  std::vector<std::vector<host_port>> replicas_;
  // For each slot the index into primaries_, or -1 when unassigned.
  std::vector<int32_t> owners_;
  size_t assigned_ = 0;
};

} // namespace cafcache
