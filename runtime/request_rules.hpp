#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

#include "messages/value.hpp"

namespace cafcache {

/// The rules a request's key, tags and value must follow, checked before it
/// starts: each returns the typed error that refuses the input, or none.

/// A key: 1 to `max_key_bytes` bytes, not starting with the reserved byte
/// 0xFF (commands::reserved_byte).
caf::error check_key(const std::string& key, size_t max_key_bytes);

/// A tag: 1 to max_tag_bytes bytes (runtime/codec).
caf::error check_tag(std::string_view tag);

/// The tags of a set: at most max_tags, each by check_tag.
caf::error check_tags(const std::vector<std::string>& tags);

/// A value: at most `max_value_bytes`, a valid body of its codec.
caf::error check_value(const cache_value& value, size_t max_value_bytes);

} // namespace cafcache
