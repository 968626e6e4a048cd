#include "runtime/redis_info.hpp"

#include <fmt/format.h>

namespace cafcache {

std::string redis_info::identity() const {
  if (run_id.empty() || master_replid.empty())
    return {};
  return fmt::format("{}/{}", run_id, master_replid);
}

std::string info_field(std::string_view info, std::string_view key) {
  size_t pos = 0;
  while (pos < info.size()) {
    auto end = info.find('\n', pos);
    if (end == std::string_view::npos)
      end = info.size();
    auto line = info.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.size() > key.size() && line[key.size()] == ':'
        && line.compare(0, key.size(), key) == 0)
      return std::string{line.substr(key.size() + 1)};
    pos = end + 1;
  }
  return {};
}

} // namespace cafcache
