#include "tests/harness/version_ledger.hpp"

#include <charconv>

namespace cafcache {

version_ledger::version_ledger(size_t keys)
  : floors_(new std::atomic<uint64_t>[keys]) {
  for (size_t i = 0; i < keys; ++i)
    floors_[i] = 0;
}

void version_ledger::acknowledge(size_t key, uint64_t version) noexcept {
  auto& floor = floors_[key];
  auto cur = floor.load();
  while (version > cur && !floor.compare_exchange_weak(cur, version))
    ;
}

std::string version_ledger::value_of(uint64_t version, size_t size) {
  auto out = "v" + std::to_string(version) + "|";
  if (out.size() < size)
    out.resize(size, '.');
  return out;
}

std::optional<uint64_t> version_ledger::version_of(std::string_view value) {
  if (value.size() < 3 || value[0] != 'v')
    return std::nullopt;
  auto bar = value.find('|');
  if (bar == std::string_view::npos || bar == 1)
    return std::nullopt;
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(value.data() + 1, value.data() + bar, out);
  if (ec != std::errc{} || end != value.data() + bar)
    return std::nullopt;
  return out;
}

} // namespace cafcache
