#include "runtime/coherence.hpp"

#include <functional>

namespace cafcache::coherence {

namespace {

constexpr size_t node_bytes = 8;

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
  for (int shift = 56; shift >= 0; shift -= 8)
    out += static_cast<char>((node >> shift) & 0xFF);
  out += static_cast<char>(what);
  out.append(name);
  return out;
}

std::optional<message> decode(std::string_view payload) {
  if (payload.size() < node_bytes + 1)
    return std::nullopt;
  message out;
  for (size_t i = 0; i < node_bytes; ++i)
    out.node = (out.node << 8) | static_cast<unsigned char>(payload[i]);
  switch (static_cast<scope>(payload[node_bytes])) {
    case scope::key:
    case scope::tag:
      out.scope = static_cast<scope>(payload[node_bytes]);
      out.name = payload.substr(node_bytes + 1);
      if (out.name.empty())
        return std::nullopt;
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
