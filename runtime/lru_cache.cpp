#include "runtime/lru_cache.hpp"

#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <utility>

namespace cafcache {

// -- constructors, destructors, and assignment operators ----------------------

lru_cache::lru_cache(size_t max_entries, size_t max_bytes)
  : max_entries_(max_entries), max_bytes_(max_bytes) {
  // nop
}

lru_cache::lru_cache(lru_cache&& other) noexcept
  : max_entries_(other.max_entries_),
    max_bytes_(other.max_bytes_),
    bytes_(std::exchange(other.bytes_, 0)),
    size_(std::exchange(other.size_, 0)),
    evictions_(std::exchange(other.evictions_, 0)),
    expirations_(std::exchange(other.expirations_, 0)),
    head_(std::exchange(other.head_, nullptr)),
    tail_(std::exchange(other.tail_, nullptr)),
    slots_(std::move(other.slots_)),
    capacity_(std::exchange(other.capacity_, 0)) {
  // nop
}

lru_cache& lru_cache::operator=(lru_cache&& other) noexcept {
  if (this != &other) {
    release();
    max_entries_ = other.max_entries_;
    max_bytes_ = other.max_bytes_;
    bytes_ = std::exchange(other.bytes_, 0);
    size_ = std::exchange(other.size_, 0);
    evictions_ = std::exchange(other.evictions_, 0);
    expirations_ = std::exchange(other.expirations_, 0);
    head_ = std::exchange(other.head_, nullptr);
    tail_ = std::exchange(other.tail_, nullptr);
    slots_ = std::move(other.slots_);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

lru_cache::~lru_cache() {
  release();
}

// -- modifiers ----------------------------------------------------------------

std::optional<std::string_view> lru_cache::get(std::string_view key,
                                               time_point now) {
  auto slot = find(key);
  if (slot == npos)
    return std::nullopt;
  auto x = slots_[slot];
  if (expired(*x, now)) {
    remove_at(slot);
    ++expirations_;
    return std::nullopt;
  }
  unlink(x);
  link_front(x);
  return x->value();
}

bool lru_cache::put(std::string key, std::string value, time_point expires,
                    time_point now) {
  constexpr size_t max_len = std::numeric_limits<uint32_t>::max();
  auto slot = find(key);
  if (key.size() + value.size() > max_bytes_ || max_entries_ == 0
      || key.size() > max_len || value.size() > max_len) {
    if (slot != npos)
      remove_at(slot);
    return false;
  }
  if (slot != npos && slots_[slot]->value() == value) {
    // The same value again (a read of Redis mirrored): a new expiry and a
    // recent use, without a new allocation.
    auto x = slots_[slot];
    x->expires = expires;
    unlink(x);
    link_front(x);
    return true;
  }
  // Allocate before changing any entry, so that bad_alloc leaves the entries
  // as they were.
  if (slot == npos && 4 * (size_ + 1) > 3 * capacity_)
    grow();
  auto x = make_entry(key, value, expires);
  if (slot == npos) {
    slot = free_slot(key);
    ++size_;
  } else {
    // Reusing the slot is safe: the key, and thus its probe sequence, is the
    // same.
    auto old = slots_[slot];
    unlink(old);
    bytes_ -= old->payload();
    destroy(old);
  }
  slots_[slot] = x;
  link_front(x);
  bytes_ += x->payload();
  // The new entry fits on its own, so this stops before reaching it.
  shrink(now);
  return true;
}

void lru_cache::set_bounds(size_t max_entries, size_t max_bytes,
                           time_point now) {
  max_entries_ = max_entries;
  max_bytes_ = max_bytes;
  shrink(now);
}

void lru_cache::shrink(time_point now) {
  while (tail_ != nullptr && (size_ > max_entries_ || bytes_ > max_bytes_)) {
    if (expired(*tail_, now))
      ++expirations_;
    else
      ++evictions_;
    remove_at(find(tail_->key()));
  }
}

bool lru_cache::erase(std::string_view key) {
  auto slot = find(key);
  if (slot == npos)
    return false;
  remove_at(slot);
  return true;
}

size_t lru_cache::erase_if(
  const std::function<bool(std::string_view, std::string_view)>& pred) {
  size_t removed = 0;
  for (auto x = head_; x != nullptr;) {
    auto next = x->next;
    if (pred(x->key(), x->value())) {
      remove_at(find(x->key()));
      ++removed;
    }
    x = next;
  }
  return removed;
}

void lru_cache::clear() {
  release();
}

// -- utility ------------------------------------------------------------------

lru_cache::entry* lru_cache::make_entry(std::string_view key,
                                        std::string_view value,
                                        time_point expires) {
  auto mem = ::operator new(sizeof(entry) + key.size() + value.size());
  auto x = new (mem) entry{nullptr, nullptr, expires,
                           static_cast<uint32_t>(key.size()),
                           static_cast<uint32_t>(value.size())};
  auto data = static_cast<char*>(mem) + sizeof(entry);
  std::memcpy(data, key.data(), key.size());
  std::memcpy(data + key.size(), value.data(), value.size());
  return x;
}

void lru_cache::destroy(entry* x) noexcept {
  ::operator delete(x);
}

size_t lru_cache::home(std::string_view key) const noexcept {
  return std::hash<std::string_view>{}(key) & (capacity_ - 1);
}

size_t lru_cache::find(std::string_view key) const noexcept {
  if (capacity_ == 0)
    return npos;
  for (auto slot = home(key);; slot = (slot + 1) & (capacity_ - 1)) {
    auto x = slots_[slot];
    if (x == nullptr)
      return npos;
    if (x->key() == key)
      return slot;
  }
}

size_t lru_cache::free_slot(std::string_view key) const noexcept {
  auto slot = home(key);
  while (slots_[slot] != nullptr)
    slot = (slot + 1) & (capacity_ - 1);
  return slot;
}

void lru_cache::grow() {
  auto capacity = capacity_ == 0 ? min_capacity : 2 * capacity_;
  std::unique_ptr<entry*[]> slots{new entry*[capacity]()};
  slots_.swap(slots);
  capacity_ = capacity;
  for (auto x = head_; x != nullptr; x = x->next)
    slots_[free_slot(x->key())] = x;
}

void lru_cache::link_front(entry* x) noexcept {
  x->prev = nullptr;
  x->next = head_;
  if (head_ != nullptr)
    head_->prev = x;
  else
    tail_ = x;
  head_ = x;
}

void lru_cache::unlink(entry* x) noexcept {
  if (x->prev != nullptr)
    x->prev->next = x->next;
  else
    head_ = x->next;
  if (x->next != nullptr)
    x->next->prev = x->prev;
  else
    tail_ = x->prev;
}

void lru_cache::remove_at(size_t slot) noexcept {
  auto x = slots_[slot];
  unlink(x);
  bytes_ -= x->payload();
  --size_;
  destroy(x);
  // Lookups stop at the first empty slot, so entries further along the run
  // move back into the hole unless that would put them before their home.
  auto mask = capacity_ - 1;
  auto hole = slot;
  for (auto i = (slot + 1) & mask; slots_[i] != nullptr; i = (i + 1) & mask) {
    auto distance = (i - home(slots_[i]->key())) & mask;
    if (distance >= ((i - hole) & mask)) {
      slots_[hole] = slots_[i];
      hole = i;
    }
  }
  slots_[hole] = nullptr;
}

void lru_cache::release() noexcept {
  for (auto x = head_; x != nullptr;) {
    auto next = x->next;
    destroy(x);
    x = next;
  }
  head_ = nullptr;
  tail_ = nullptr;
  slots_.reset();
  capacity_ = 0;
  size_ = 0;
  bytes_ = 0;
}

} // namespace cafcache
