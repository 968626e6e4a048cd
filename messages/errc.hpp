#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

namespace cafcache {

/// Everything a user of cafcache can get back as an error. The numeric values
/// cross the network, so they never change meaning.
enum class errc : uint8_t {
  /// Redis could not be reached and the fallback could not answer instead.
  redis_unavailable = 1,
  /// No answer arrived before the request's deadline.
  timeout = 2,
  /// The key is longer than `cafcache.max-key-bytes`.
  key_too_large = 3,
  /// The value is longer than `cafcache.max-value-bytes`.
  value_too_large = 4,
  /// The value does not decode with its codec.
  decode_error = 5,
  /// Too many requests are in flight to Redis.
  overloaded = 6,
  /// The configuration is invalid.
  bad_config = 7,
  /// Redis refused the credentials.
  auth_failed = 8,
  /// The key is empty, or starts with the reserved byte 0xFF.
  invalid_key = 9,
  /// Redis answered with an error reply.
  redis_error = 10,
  /// The cache is shutting down and takes no new requests.
  shutting_down = 11,
  /// The loader of get_or_load answered with an error.
  load_failed = 12,
  /// A tag is empty, longer than 255 bytes, or a value has more than 32.
  invalid_tag = 13,
};

/// The category atom of cafcache errors.
constexpr caf::atom_value errc_category = caf::atom("cafcache");

/// Short identifier, e.g. "key_too_large".
const char* to_string(errc x);

/// A sentence a person understands, e.g. "the key is longer than the
/// configured maximum".
const char* describe(errc x);

/// Wraps `x` into a CAF error of category `cafcache`.
caf::error make_error(errc x);

/// Wraps `x` into a CAF error with a detail sentence as context.
caf::error make_error(errc x, std::string detail);

/// Returns the cafcache code of `err`, or 0 when it is not a cafcache error.
uint8_t code_of(const caf::error& err);

/// True when `err` is the cafcache error `x`.
bool is(const caf::error& err, errc x);

/// Renders any error as a sentence: cafcache errors with their description and
/// detail, CAF's own errors with CAF's rendering.
std::string to_sentence(const caf::error& err);

/// What happened, without what it means for a request: the detail sentence
/// of `err`, or `to_sentence(err)` when it has none. For log lines and
/// health, where "the fallback could not answer instead" would be untrue.
std::string detail_of(const caf::error& err);

/// The text of `err` in log lines and health: `detail_of` for
/// `redis_unavailable` (what happened to Redis), `to_sentence` otherwise.
std::string log_text(const caf::error& err);

} // namespace cafcache
