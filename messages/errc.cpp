#include "messages/errc.hpp"

#include <caf/sec.hpp>

namespace cafcache {

const char* to_string(errc x) {
  switch (x) {
    case errc::redis_unavailable: return "redis_unavailable";
    case errc::timeout: return "timeout";
    case errc::key_too_large: return "key_too_large";
    case errc::value_too_large: return "value_too_large";
    case errc::decode_error: return "decode_error";
    case errc::overloaded: return "overloaded";
    case errc::bad_config: return "bad_config";
    case errc::auth_failed: return "auth_failed";
    case errc::invalid_key: return "invalid_key";
    case errc::redis_error: return "redis_error";
    case errc::shutting_down: return "shutting_down";
    case errc::load_failed: return "load_failed";
    case errc::invalid_tag: return "invalid_tag";
  }
  return "unknown";
}

const char* describe(errc x) {
  switch (x) {
    case errc::redis_unavailable:
      return "Redis is unreachable and the fallback could not answer instead";
    case errc::timeout:
      return "no answer arrived before the request's deadline";
    case errc::key_too_large:
      return "the key is longer than the configured maximum";
    case errc::value_too_large:
      return "the value is longer than the configured maximum";
    case errc::decode_error:
      return "the value does not decode with its codec";
    case errc::overloaded:
      return "too many requests are in flight to Redis; try again later";
    case errc::bad_config:
      return "the cafcache configuration is invalid";
    case errc::auth_failed:
      return "Redis refused the configured user name or password";
    case errc::invalid_key:
      return "the key is empty or reserved";
    case errc::redis_error:
      return "Redis answered with an error";
    case errc::shutting_down:
      return "the cache is shutting down";
    case errc::load_failed:
      return "the loader could not produce the value";
    case errc::invalid_tag:
      return "a tag is empty or too long, or the value has too many tags";
  }
  return "unknown cafcache error";
}

caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), errc_category};
}

caf::error make_error(errc x, std::string detail) {
  return caf::error{static_cast<uint8_t>(x), errc_category,
                    caf::make_message(std::move(detail))};
}

uint8_t code_of(const caf::error& err) {
  // CAF 0.17's category() dereferences the payload: check emptiness first.
  if (!err)
    return 0;
  return err.category() == errc_category ? err.code() : 0;
}

bool is(const caf::error& err, errc x) {
  return code_of(err) == static_cast<uint8_t>(x);
}

std::string to_sentence(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == errc_category) {
    std::string out = describe(static_cast<errc>(err.code()));
    if (err.context().match_elements<std::string>()) {
      out += ": ";
      out += err.context().get_as<std::string>(0);
    }
    return out;
  }
  if (err.category() == caf::atom("system"))
    return "CAF: " + caf::to_string(static_cast<caf::sec>(err.code()));
  return caf::to_string(err);
}

std::string detail_of(const caf::error& err) {
  if (err && err.category() == errc_category
      && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return to_sentence(err);
}

std::string log_text(const caf::error& err) {
  return is(err, errc::redis_unavailable) ? detail_of(err) : to_sentence(err);
}

} // namespace cafcache
