#include "runtime/cluster_errors.hpp"

namespace cafcache {

namespace {

bool starts_with(std::string_view text, std::string_view word) noexcept {
  return text.size() >= word.size()
         && text.compare(0, word.size(), word) == 0
         && (text.size() == word.size() || text[word.size()] == ' ');
}

} // namespace

bool try_later(std::string_view text) noexcept {
  return starts_with(text, "TRYAGAIN") || starts_with(text, "CLUSTERDOWN");
}

bool slot_elsewhere(std::string_view text) noexcept {
  return starts_with(text, "MOVED") || starts_with(text, "ASK")
         || starts_with(text, "TRYAGAIN") || starts_with(text, "CLUSTERDOWN");
}

} // namespace cafcache
