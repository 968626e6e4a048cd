#include "messages/value.hpp"

namespace cafcache {

const char* to_string(codec_kind x) {
  switch (x) {
    case codec_kind::msgpack:
      return "msgpack";
    case codec_kind::json:
      return "json";
    case codec_kind::raw:
      return "raw";
  }
  return "<invalid>";
}

bool operator==(const cache_value& x, const cache_value& y) {
  return x.codec == y.codec && x.data == y.data;
}

bool operator!=(const cache_value& x, const cache_value& y) {
  return !(x == y);
}

} // namespace cafcache
