#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace cafcache {

/// How the bytes of a cache_value were produced.
enum class codec_kind : uint8_t {
  /// MessagePack: exactly one object.
  msgpack = 1,
  /// JSON text, UTF-8.
  json = 2,
  /// Opaque bytes, stored as given.
  raw = 3,
};

/// Returns "msgpack", "json" or "raw"; "<invalid>" for values outside the enum
/// (which only a foreign serializer can produce).
const char* to_string(codec_kind x);

/// A value as the cache stores it: the codec that produced the bytes, and the
/// bytes.
struct cache_value {
  /// The codec that produced data.
  codec_kind codec = codec_kind::raw;

  /// The encoded body (binary-safe).
  std::string data;
};

/// Returns whether both values have the same codec and bytes.
bool operator==(const cache_value& x, const cache_value& y);

/// Returns whether the values differ in codec or bytes.
bool operator!=(const cache_value& x, const cache_value& y);

/// Makes cache_value serializable for CAF messages; the codec travels as its
/// underlying integer.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cache_value& x) {
  return f(caf::meta::type_name("cafcache.cache_value"), x.codec, x.data);
}

} // namespace cafcache
