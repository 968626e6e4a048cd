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
  size_t n = 1;
  while (n < slots)
    n <<= 1;
  entries_.resize(n);
  mask_ = n - 1;
}

mirror_memo::entry* mirror_memo::find(std::string_view key, uint64_t& hash) {
  if (entries_.empty())
    return nullptr;
  hash = hash_of(key);
  return &entries_[hash & mask_];
}

bool mirror_memo::sent_lately(std::string_view key, std::string_view value,
                              time_point now) {
  uint64_t hash = 0;
  auto x = find(key, hash);
  if (x == nullptr)
    return false;
  auto t = now.time_since_epoch().count();
  auto fingerprint = hash_of(value);
  if (x->sent != 0 && x->key == hash && x->value == fingerprint
      && t - x->sent <= refresh_)
    return true;
  *x = entry{hash, fingerprint, t};
  return false;
}

void mirror_memo::forget(std::string_view key) {
  uint64_t hash = 0;
  if (auto x = find(key, hash); x != nullptr && x->key == hash)
    *x = entry{};
}

} // namespace cafcache
