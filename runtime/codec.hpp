#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// msgpack-c pulls in Boost unless told otherwise, and the project does not
// depend on Boost. A translation unit that includes <msgpack.hpp> before this
// header must define MSGPACK_NO_BOOST itself.
#ifndef MSGPACK_NO_BOOST
#  define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <nlohmann/json.hpp>

#include "messages/value.hpp"

namespace cafcache {

/// First byte of every envelope this module writes to Redis.
constexpr unsigned char envelope_magic = 0xCA;



/// Returns true when data is a well-formed body for codec: msgpack needs
/// exactly one complete object with nothing trailing, json needs text without
/// NUL bytes that nlohmann::json::accept takes, raw takes anything. Returns
/// false for codec values outside the enum.
bool body_is_valid(codec_kind codec, std::string_view data);

/// Returns the envelope stored in Redis: envelope_magic, the codec byte, then
/// x.data. Does not validate x.data, so check body_is_valid first when x comes
/// from an untrusted sender; decode_envelope would reject a bad body later.
std::string encode_envelope(const cache_value& x);

/// Unwraps a stored envelope of any form (plain, timed, tagged). Returns
/// std::nullopt when the magic byte or codec byte is wrong or the body is
/// invalid for its codec (foreign writer, garbage).
std::optional<cache_value> decode_envelope(std::string_view stored);

/// Magic byte of an envelope that also carries a soft expiry (get_or_load's
/// stale-while-revalidate): magic, codec byte, the soft expiry as a signed
/// 64-bit count of milliseconds since the Unix epoch (big-endian), then the
/// body (docs/formats.md).
constexpr unsigned char timed_envelope_magic = 0xCB;

/// Wraps a value with a soft expiry. decode_envelope reads both forms.
std::string encode_envelope(const cache_value& x,
                            std::chrono::system_clock::time_point soft_expiry);

/// The soft expiry of a timed envelope, std::nullopt for any other input. A
/// timestamp the clock cannot hold (beyond about 292 years from 1970) gives
/// time_point::max() or time_point::min().
std::optional<std::chrono::system_clock::time_point>
soft_expiry_of(std::string_view stored);

/// The marker stored for "the loader found nothing" (negative caching): the
/// magic byte followed by a zero codec byte and no body.
std::string negative_envelope();

/// True when `stored` is the negative-caching marker.
bool is_negative_envelope(std::string_view stored);

/// Magic byte of an envelope that carries tags (see invalidate_tag): magic,
/// the number of tags, each tag as one length byte and its bytes, then an
/// untagged envelope of either form above.
constexpr unsigned char tagged_envelope_magic = 0xCC;

/// At most this many tags per value.
constexpr size_t max_tags = 32;

/// At most this many bytes per tag.
constexpr size_t max_tag_bytes = 255;

/// Wraps an envelope with tags; returns `stored` unchanged for no tags. The
/// caller checks the bounds above first (tags beyond them are not written).
std::string encode_tagged(std::string stored,
                          const std::vector<std::string>& tags);

/// The envelope inside a tagged one, `stored` itself when it is not tagged,
/// and an empty view for a malformed tag header.
std::string_view strip_tags(std::string_view stored);

/// True when `stored` is a tagged envelope that carries `tag`.
bool has_tag(std::string_view stored, std::string_view tag);

namespace detail {

/// Whether codec_kind::raw can store a T as-is.
template <class T>
struct is_raw_source
  : std::bool_constant<std::is_same_v<T, std::string>
                       || std::is_same_v<T, std::string_view>
                       || std::is_same_v<T, std::vector<char>>
                       || std::is_same_v<T, std::vector<unsigned char>>
                       || std::is_same_v<T, std::vector<std::byte>>> {};

/// Whether a codec_kind::raw body can be copied into a T; excludes
/// std::string_view because it would dangle.
template <class T>
struct is_raw_target
  : std::bool_constant<is_raw_source<T>::value
                       && !std::is_same_v<T, std::string_view>> {};

/// Lets msgpack::pack append straight to a std::string.
struct string_writer {
  /// The string receiving the bytes.
  std::string& out;

  /// Appends size bytes at data to out.
  void write(const char* data, size_t size) {
    out.append(data, size);
  }
};

/// Returns msgpack limits that no valid body of the given size can exceed, so
/// that a forged container header cannot make the decoder allocate memory
/// for billions of elements.
inline msgpack::unpack_limit msgpack_limits(size_t body_size) {
  return msgpack::unpack_limit(body_size, body_size / 2, body_size, body_size,
                               body_size, body_size);
}

/// Returns whether the JSON value j, if it is a number, lies in the range of
/// the arithmetic type T. nlohmann::json converts numbers with a plain cast,
/// which wraps integers and is undefined for a float outside T's range.
template <class T>
bool json_number_fits(const nlohmann::json& j) {
  using limits = std::numeric_limits<T>;
  if constexpr (std::is_floating_point_v<T>) {
    return true;
  } else if (j.is_number_unsigned()) {
    return j.get<uint64_t>() <= static_cast<uint64_t>(limits::max());
  } else if (j.is_number_integer()) {
    auto value = j.get<int64_t>();
    if (value < 0)
      return limits::is_signed && value >= static_cast<int64_t>(limits::min());
    return static_cast<uint64_t>(value) <= static_cast<uint64_t>(limits::max());
  } else if (j.is_number_float()) {
    // Both bounds are powers of two, exact as doubles: [min, max + 1).
    auto value = j.get<double>();
    auto upper = 2.0 * static_cast<double>(limits::max() / 2 + 1);
    auto lower = limits::is_signed ? -upper : -1.0;
    return limits::is_signed ? value >= lower && value < upper
                             : value > lower && value < upper;
  }
  return true;
}

} // namespace detail

/// Returns x encoded with Codec. The codec is a template argument so that only
/// the chosen encoder has to compile for T: msgpack needs MSGPACK_DEFINE or a
/// msgpack adaptor, json needs to_json, and raw accepts only std::string,
/// std::string_view and vectors of char, unsigned char or std::byte. Throws
/// nlohmann::json::type_error when a JSON string holds invalid UTF-8 and
/// std::length_error when a msgpack string or container exceeds 2^32 - 1.
template <codec_kind Codec = codec_kind::msgpack, class T>
cache_value pack(const T& x) {
  cache_value result;
  result.codec = Codec;
  if constexpr (Codec == codec_kind::msgpack) {
    detail::string_writer writer{result.data};
    msgpack::pack(writer, x);
  } else if constexpr (Codec == codec_kind::json) {
    result.data = nlohmann::json(x).dump();
  } else {
    static_assert(Codec == codec_kind::raw, "unknown codec_kind");
    static_assert(detail::is_raw_source<T>::value,
                  "codec_kind::raw stores only std::string, std::string_view "
                  "and vectors of char, unsigned char or std::byte");
    result.data.assign(reinterpret_cast<const char*>(x.data()), x.size());
  }
  return result;
}

/// Returns the T that x holds. Returns std::nullopt when x.codec is not Codec,
/// the body is malformed, or the body does not convert to T (wrong type, out
/// of range); never throws, because a cache entry written by another program
/// version must not take down the reader. Requirements on T mirror pack().
/// With JSON, a number is range-checked when T itself is arithmetic; numbers
/// inside containers or structs convert as nlohmann::json converts them.
template <class T, codec_kind Codec = codec_kind::msgpack>
std::optional<T> unpack(const cache_value& x) noexcept {
  if constexpr (Codec == codec_kind::raw)
    static_assert(detail::is_raw_target<T>::value,
                  "codec_kind::raw decodes only into std::string and vectors "
                  "of char, unsigned char or std::byte");
  if (x.codec != Codec)
    return std::nullopt;
  // Conversions report failure through exceptions of several unrelated types
  // (msgpack, nlohmann, user adaptors, bad_alloc); all mean "no T here".
  try {
    if constexpr (Codec == codec_kind::msgpack) {
      size_t offset = 0;
      auto handle = msgpack::unpack(x.data.data(), x.data.size(), offset,
                                    nullptr, nullptr,
                                    detail::msgpack_limits(x.data.size()));
      if (offset != x.data.size())
        return std::nullopt;
      return handle.get().template as<T>();
    } else if constexpr (Codec == codec_kind::json) {
      // nlohmann::json stops reading at a NUL byte, which JSON text never
      // holds.
      if (x.data.find('\0') != std::string::npos)
        return std::nullopt;
      auto json = nlohmann::json::parse(x.data, nullptr, false);
      if (json.is_discarded())
        return std::nullopt;
      if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
        if (!detail::json_number_fits<T>(json))
          return std::nullopt;
      return json.template get<T>();
    } else {
      T result;
      result.resize(x.data.size());
      if (!x.data.empty())
        std::memcpy(result.data(), x.data.data(), x.data.size());
      return result;
    }
  } catch (...) {
    return std::nullopt;
  }
}

} // namespace cafcache
