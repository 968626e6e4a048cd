#include "runtime/request_rules.hpp"

#include <fmt/format.h>

#include "messages/errc.hpp"
#include "runtime/codec.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

caf::error check_key(const std::string& key, size_t max_key_bytes) {
  if (key.empty())
    return make_error(errc::invalid_key);
  if (key.size() > max_key_bytes)
    return make_error(errc::key_too_large,
                      fmt::format("{} bytes, at most {}", key.size(),
                                  max_key_bytes));
  if (key.front() == commands::reserved_byte)
    return make_error(errc::invalid_key,
                      "keys starting with the byte 0xFF are reserved");
  return caf::none;
}

caf::error check_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > max_tag_bytes)
    return make_error(errc::invalid_tag,
                      fmt::format("a tag has {} bytes, allowed are 1 to {}",
                                  tag.size(), max_tag_bytes));
  return caf::none;
}

caf::error check_tags(const std::vector<std::string>& tags) {
  if (tags.size() > max_tags)
    return make_error(errc::invalid_tag, fmt::format("{} tags, at most {}",
                                                     tags.size(), max_tags));
  for (auto& tag : tags)
    if (auto err = check_tag(tag))
      return err;
  return caf::none;
}

caf::error check_value(const cache_value& value, size_t max_value_bytes) {
  if (value.data.size() > max_value_bytes)
    return make_error(errc::value_too_large,
                      fmt::format("{} bytes, at most {}", value.data.size(),
                                  max_value_bytes));
  if (!body_is_valid(value.codec, value.data))
    return make_error(errc::decode_error,
                      fmt::format("the value is not valid {}",
                                  to_string(value.codec)));
  return caf::none;
}

} // namespace cafcache
