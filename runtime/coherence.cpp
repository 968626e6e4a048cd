#include "runtime/coherence.hpp"

#include <functional>

namespace cafcache::coherence {

namespace {

constexpr size_t node_bytes = 8;

/// Scope byte of a message that names several keys (see encode_keys); it
/// decodes as scope::key.
constexpr char many_keys = 'K';

constexpr size_t length_bytes = 4;

void put_node(std::string& out, uint64_t node) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out += static_cast<char>((node >> shift) & 0xFF);
}

/// The keys after the scope byte of a `K` message, or nullopt when an entry
/// is empty or runs past the end.
std::optional<std::vector<std::string>> keys_of(std::string_view rest) {
  std::vector<std::string> out;
  while (!rest.empty()) {
    if (rest.size() < length_bytes)
      return std::nullopt;
    size_t len = 0;
    for (size_t i = 0; i < length_bytes; ++i)
      len = (len << 8) | static_cast<unsigned char>(rest[i]);
    rest.remove_prefix(length_bytes);
    if (len == 0 || len > rest.size())
      return std::nullopt;
    out.emplace_back(rest.substr(0, len));
    rest.remove_prefix(len);
  }
  if (out.empty())
    return std::nullopt;
  return out;
}

} // namespace

std::string channel(std::string_view prefix) {
  std::string out{prefix};
  out += '\xFF';
  out += "invalidations";
  return out;
}

bool sent_by(std::string_view payload, uint64_t node) {
  if (payload.size() < node_bytes + 1)
    return false;
  uint64_t from = 0;
  for (size_t i = 0; i < node_bytes; ++i)
    from = (from << 8) | static_cast<unsigned char>(payload[i]);
  return from == node;
}

std::string encode(uint64_t node, scope what, std::string_view name) {
  std::string out;
  out.reserve(node_bytes + 1 + name.size());
  put_node(out, node);
  out += static_cast<char>(what);
  out.append(name);
  return out;
}

std::string encode_keys(uint64_t node, const std::vector<std::string>& keys) {
  if (keys.size() == 1)
    return encode(node, scope::key, keys.front());
  std::string out;
  size_t size = node_bytes + 1;
  for (auto& key : keys)
    size += length_bytes + key.size();
  out.reserve(size);
  put_node(out, node);
  out += many_keys;
  for (auto& key : keys) {
    auto len = static_cast<uint32_t>(key.size());
    for (int shift = 24; shift >= 0; shift -= 8)
      out += static_cast<char>((len >> shift) & 0xFF);
    out.append(key);
  }
  return out;
}

std::optional<message> decode(std::string_view payload) {
  if (payload.size() < node_bytes + 1)
    return std::nullopt;
  message out;
  for (size_t i = 0; i < node_bytes; ++i)
    out.node = (out.node << 8) | static_cast<unsigned char>(payload[i]);
  auto rest = payload.substr(node_bytes + 1);
  if (payload[node_bytes] == many_keys) {
    auto keys = keys_of(rest);
    if (!keys)
      return std::nullopt;
    out.scope = scope::key;
    out.names = std::move(*keys);
    return out;
  }
  switch (static_cast<scope>(payload[node_bytes])) {
    case scope::key:
    case scope::tag:
      if (rest.empty())
        return std::nullopt;
      out.scope = static_cast<scope>(payload[node_bytes]);
      out.names.emplace_back(rest);
      return out;
    case scope::all:
      out.scope = scope::all;
      return out;
  }
  return std::nullopt;
}

void mirror_guard::invalidated(std::string_view key) {
  last_[bucket(key)] = ++seq_;
}

void mirror_guard::invalidated_all() {
  all_ = ++seq_;
}

bool mirror_guard::may_mirror(std::string_view key, uint64_t ticket) const {
  return all_ <= ticket && last_[bucket(key)] <= ticket;
}

size_t mirror_guard::bucket(std::string_view key) const {
  return std::hash<std::string_view>{}(key) % buckets;
}

} // namespace cafcache::coherence
