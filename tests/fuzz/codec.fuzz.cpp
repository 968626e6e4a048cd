// Fuzz target for value decoding (runtime/codec.{hpp,cpp}). The input is taken
// three ways: as a stored envelope (plain, timed, negative marker, foreign
// bytes), as a body for every codec and several target types of unpack, and
// as the source of generated values that must survive pack -> unpack and
// encode_envelope -> decode_envelope unchanged.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/codec.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using cafcache::body_is_valid;
using cafcache::cache_value;
using cafcache::codec_kind;
using cafcache::decode_envelope;
using cafcache::encode_envelope;
using cafcache::pack;
using cafcache::unpack;
using time_point = std::chrono::system_clock::time_point;

constexpr size_t header_size = 2;
constexpr size_t timed_header_size = 10;

uint64_t big_endian_u64(std::string_view bytes) {
  uint64_t result = 0;
  for (size_t i = 0; i < 8; ++i)
    result = (result << 8) | static_cast<unsigned char>(bytes[i]);
  return result;
}

// Whether a soft expiry of ms milliseconds fits system_clock's duration.
bool fits_clock(int64_t ms) {
  using clock_ms = std::chrono::duration<int64_t, std::milli>;
  auto max = std::chrono::duration_cast<clock_ms>(time_point::duration::max());
  auto min = std::chrono::duration_cast<clock_ms>(time_point::duration::min());
  return ms >= min.count() && ms <= max.count();
}

int64_t millis_of(time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           t.time_since_epoch())
    .count();
}

// -- stored envelopes ---------------------------------------------------------

void check_envelope(std::string_view stored) {
  auto decoded = decode_envelope(stored);
  auto soft = cafcache::soft_expiry_of(stored);
  bool negative = cafcache::is_negative_envelope(stored);
  FUZZ_CHECK(!(negative && decoded));
  // Tags wrap an envelope once: what is inside must be the end of the stored
  // bytes (or nothing, for a malformed tag header) and decode alike.
  auto inner = cafcache::strip_tags(stored);
  auto first = [](std::string_view x) {
    return x.empty() ? 0 : static_cast<unsigned char>(x[0]);
  };
  if (first(stored) == cafcache::tagged_envelope_magic) {
    FUZZ_CHECK(stored.size() > inner.size()
               && stored.substr(stored.size() - inner.size()) == inner);
    if (first(inner) == cafcache::tagged_envelope_magic) {
      FUZZ_CHECK(!decoded && !soft && !negative);
      return;
    }
  } else {
    FUZZ_CHECK(inner == stored);
  }
  auto magic = first(inner);
  bool plain = inner.size() >= header_size
               && magic == cafcache::envelope_magic;
  bool timed = inner.size() >= timed_header_size
               && magic == cafcache::timed_envelope_magic;
  FUZZ_CHECK(negative == (inner == cafcache::negative_envelope()));
  FUZZ_CHECK(soft.has_value() == timed);
  if (!plain && !timed) {
    FUZZ_CHECK(!decoded);
    return;
  }
  auto codec = static_cast<codec_kind>(static_cast<unsigned char>(inner[1]));
  auto body = inner.substr(plain ? header_size : timed_header_size);
  FUZZ_CHECK(decoded.has_value() == body_is_valid(codec, body));
  if (!decoded)
    return;
  FUZZ_CHECK(decoded->codec == codec && decoded->data == body);
  if (plain) {
    FUZZ_CHECK(encode_envelope(*decoded) == inner);
    return;
  }
  // A timed envelope re-encodes to the same bytes whenever its expiry is a
  // time the clock can hold; later ones saturate at the clock's limits.
  auto ms = static_cast<int64_t>(big_endian_u64(inner.substr(header_size)));
  auto again = encode_envelope(*decoded, *soft);
  FUZZ_CHECK(decode_envelope(again) == decoded);
  if (fits_clock(ms)) {
    FUZZ_CHECK(millis_of(*soft) == ms);
    FUZZ_CHECK(again == inner);
  } else {
    FUZZ_CHECK(*soft == (ms < 0 ? time_point::min() : time_point::max()));
  }
}

// -- bodies -------------------------------------------------------------------

// unpack<T> of arbitrary bytes: never throws, and whatever it gives back must
// survive another pack -> unpack unchanged.
template <class T, codec_kind Codec>
void check_unpack(const cache_value& x) {
  auto value = unpack<T, Codec>(x);
  if (!value)
    return;
  FUZZ_CHECK(body_is_valid(Codec, x.data));
  std::optional<cache_value> packed;
  try {
    packed = pack<Codec>(*value);
  } catch (const nlohmann::json::type_error&) {
    // A JSON string that msgpack or JSON escapes turned into invalid UTF-8
    // cannot be written back as JSON; pack reports it, as documented.
    return;
  }
  auto again = unpack<T, Codec>(*packed);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *value);
}

// The msgpack limits unpack applies must never refuse a body that
// body_is_valid accepts, or decode_envelope would take values unpack rejects.
void check_msgpack_limits(std::string_view body) {
  if (!body_is_valid(codec_kind::msgpack, body))
    return;
  size_t offset = 0;
  msgpack::object_handle handle;
  try {
    handle = msgpack::unpack(body.data(), body.size(), offset, nullptr,
                             nullptr,
                             cafcache::detail::msgpack_limits(body.size()));
  } catch (const msgpack::unpack_error&) {
    FUZZ_CHECK(!"unpack limits refuse a valid body");
  }
  FUZZ_CHECK(offset == body.size());
  // Re-encoding the object is stable after one step: msgpack allows several
  // encodings of a value, but packing picks one.
  std::string first;
  cafcache::detail::string_writer first_writer{first};
  msgpack::pack(first_writer, handle.get());
  auto again = msgpack::unpack(first.data(), first.size());
  std::string second;
  cafcache::detail::string_writer second_writer{second};
  msgpack::pack(second_writer, again.get());
  FUZZ_CHECK(first == second);
}

void check_bodies(std::string_view bytes) {
  std::string data{bytes};
  cache_value mp{codec_kind::msgpack, data};
  check_unpack<std::string, codec_kind::msgpack>(mp);
  check_unpack<int64_t, codec_kind::msgpack>(mp);
  check_unpack<uint64_t, codec_kind::msgpack>(mp);
  check_unpack<bool, codec_kind::msgpack>(mp);
  check_unpack<std::vector<std::string>, codec_kind::msgpack>(mp);
  check_unpack<std::map<std::string, int64_t>, codec_kind::msgpack>(mp);
  check_unpack<std::vector<std::vector<int32_t>>, codec_kind::msgpack>(mp);
  check_msgpack_limits(bytes);
  cache_value js{codec_kind::json, data};
  check_unpack<std::string, codec_kind::json>(js);
  check_unpack<int64_t, codec_kind::json>(js);
  check_unpack<uint64_t, codec_kind::json>(js);
  check_unpack<bool, codec_kind::json>(js);
  check_unpack<std::vector<std::string>, codec_kind::json>(js);
  check_unpack<int32_t, codec_kind::json>(js);
  check_unpack<uint16_t, codec_kind::json>(js);
  check_unpack<double, codec_kind::json>(js);
  // Only top-level numbers are range-checked (see unpack), so nested ones
  // are fuzzed as doubles.
  check_unpack<std::map<std::string, double>, codec_kind::json>(js);
  check_unpack<nlohmann::json, codec_kind::json>(js);
  // Every body JSON accepts is a nlohmann::json.
  FUZZ_CHECK(body_is_valid(codec_kind::json, bytes)
             == unpack<nlohmann::json, codec_kind::json>(js).has_value());
  cache_value raw{codec_kind::raw, data};
  FUZZ_CHECK(unpack<std::string, codec_kind::raw>(raw) == data);
  auto bytes_back = unpack<std::vector<unsigned char>, codec_kind::raw>(raw);
  FUZZ_CHECK(bytes_back
             && std::string(bytes_back->begin(), bytes_back->end()) == data);
  // A codec mismatch is always a miss.
  FUZZ_CHECK(!unpack<std::string, codec_kind::json>(raw));
  FUZZ_CHECK(!unpack<std::string, codec_kind::msgpack>(js));
}

// -- generated values ---------------------------------------------------------

template <codec_kind Codec, class T>
void check_identity(const T& x) {
  auto packed = pack<Codec>(x);
  FUZZ_CHECK(packed.codec == Codec);
  FUZZ_CHECK(body_is_valid(Codec, packed.data));
  auto back = unpack<T, Codec>(packed);
  FUZZ_CHECK(back.has_value() && *back == x);
  auto stored = encode_envelope(packed);
  FUZZ_CHECK(decode_envelope(stored) == packed);
  FUZZ_CHECK(!cafcache::soft_expiry_of(stored));
}

bool is_utf8(const std::string& str) {
  try {
    static_cast<void>(nlohmann::json(str).dump());
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

void check_generated(std::string_view bytes) {
  std::string str{bytes};
  int64_t number = 0;
  double real = 0;
  if (bytes.size() >= 8) {
    auto bits = big_endian_u64(bytes);
    number = static_cast<int64_t>(bits);
    std::memcpy(&real, &bits, sizeof(real));
  }
  std::vector<std::string> words;
  std::map<std::string, int64_t> counts;
  for (size_t pos = 0; pos < bytes.size();) {
    auto end = std::min(bytes.find(' ', pos), bytes.size());
    auto word = std::string{bytes.substr(pos, end - pos)};
    ++counts[word];
    words.push_back(std::move(word));
    pos = end + 1;
  }
  check_identity<codec_kind::msgpack>(str);
  check_identity<codec_kind::msgpack>(number);
  check_identity<codec_kind::msgpack>(words);
  check_identity<codec_kind::msgpack>(counts);
  check_identity<codec_kind::json>(number);
  check_identity<codec_kind::raw>(str);
  if (std::isfinite(real)) {
    check_identity<codec_kind::msgpack>(real);
    check_identity<codec_kind::json>(real);
  }
  if (is_utf8(str)) {
    check_identity<codec_kind::json>(str);
    check_identity<codec_kind::json>(words);
    check_identity<codec_kind::json>(counts);
  }
  // Timed envelopes carry any expiry the clock holds, to the millisecond;
  // 2^43 ms (about 278 years) stays inside its range either side of 1970.
  auto ms = number % (int64_t{1} << 43);
  auto soft = time_point{std::chrono::milliseconds(ms)};
  auto value = pack<codec_kind::raw>(str);
  auto stored = encode_envelope(value, soft);
  FUZZ_CHECK(decode_envelope(stored) == value);
  auto soft_back = cafcache::soft_expiry_of(stored);
  FUZZ_CHECK(soft_back && *soft_back == soft);
  // Tags around either form: the value, its expiry and every tag written
  // (at most max_tags of at most max_tag_bytes) come back.
  std::vector<std::string> tags;
  for (const auto& word : words)
    if (tags.size() < cafcache::max_tags
        && word.size() <= cafcache::max_tag_bytes)
      tags.push_back(word);
  auto tagged = cafcache::encode_tagged(stored, tags);
  FUZZ_CHECK(tags.empty() ? tagged == stored
                          : cafcache::strip_tags(tagged) == stored);
  FUZZ_CHECK(decode_envelope(tagged) == value);
  FUZZ_CHECK(cafcache::soft_expiry_of(tagged) == soft);
  for (const auto& tag : tags)
    FUZZ_CHECK(cafcache::has_tag(tagged, tag));
  auto plain_tagged = cafcache::encode_tagged(encode_envelope(value), tags);
  FUZZ_CHECK(decode_envelope(plain_tagged) == value);
  FUZZ_CHECK(!cafcache::soft_expiry_of(plain_tagged));
  FUZZ_CHECK(cafcache::is_negative_envelope(
    cafcache::encode_tagged(cafcache::negative_envelope(), tags)));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  check_envelope(bytes);
  check_bodies(bytes);
  check_generated(bytes);
  return 0;
}
