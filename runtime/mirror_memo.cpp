#include "runtime/mirror_memo.hpp"

#include <functional>

namespace cafcache {

namespace {

uint64_t hash_of(std::string_view x) {
  return std::hash<std::string_view>{}(x);
}

} // namespace

mirror_memo::mirror_memo(size_t slots, std::chrono::nanoseconds refresh)
  : refresh_(refresh.count()) {
  if (slots == 0 || refresh.count() <= 0)
    return;
  size_t n = ways;
  while (n < slots)
    n <<= 1;
  entries_.resize(n);
  mask_ = n / ways - 1;
}

mirror_memo::entry* mirror_memo::set_of(uint64_t hash) {
  if (entries_.empty())
    return nullptr;
  return &entries_[(hash & mask_) * ways];
}

bool mirror_memo::sent_lately(std::string_view key, std::string_view value,
                              time_point now) {
  auto hash = hash_of(key);
  auto set = set_of(hash);
  if (set == nullptr)
    return false;
  auto t = now.time_since_epoch().count();
  auto fingerprint = hash_of(value);
  // The key's entry, else an empty one, else the one sent longest ago.
  auto target = set;
  for (size_t i = 0; i < ways; ++i) {
    auto& x = set[i];
    if (x.sent != 0 && x.key == hash) {
      if (x.value == fingerprint && t - x.sent <= refresh_)
        return true;
      target = &x;
      break;
    }
    if (x.sent < target->sent)
      target = &x;
  }
  *target = entry{hash, fingerprint, t};
  return false;
}

void mirror_memo::forget(std::string_view key) {
  auto hash = hash_of(key);
  auto set = set_of(hash);
  if (set == nullptr)
    return;
  for (size_t i = 0; i < ways; ++i)
    if (set[i].sent != 0 && set[i].key == hash)
      set[i] = entry{};
}

} // namespace cafcache
