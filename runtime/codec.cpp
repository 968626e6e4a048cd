#include "runtime/codec.hpp"

#include <algorithm>

namespace cafcache {

namespace {

// Envelope layout: magic byte, codec byte, body.
constexpr size_t envelope_header_size = 2;

constexpr size_t timestamp_size = 8;

bool msgpack_body_is_valid(std::string_view data) {
  // The null visitor only checks the structure and never allocates for the
  // element counts a forged header may claim.
  msgpack::null_visitor visitor;
  size_t offset = 0;
  try {
    return msgpack::parse(data.data(), data.size(), offset, visitor)
           && offset == data.size();
  } catch (const msgpack::unpack_error&) {
    // Thrown for an ext header claiming 2^32 - 1 bytes.
    return false;
  }
}

} // namespace

bool body_is_valid(codec_kind codec, std::string_view data) {
  switch (codec) {
    case codec_kind::msgpack:
      return msgpack_body_is_valid(data);
    case codec_kind::json:
      // nlohmann::json stops reading at a NUL byte and would accept whatever
      // follows it; JSON text never holds one.
      return data.find('\0') == std::string_view::npos
             && nlohmann::json::accept(data.begin(), data.end());
    case codec_kind::raw:
      return true;
  }
  return false;
}

std::string encode_envelope(const cache_value& x) {
  std::string result;
  result.reserve(envelope_header_size + x.data.size());
  result += static_cast<char>(envelope_magic);
  result += static_cast<char>(x.codec);
  result += x.data;
  return result;
}

std::string encode_envelope(const cache_value& x,
                            std::chrono::system_clock::time_point soft_expiry) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              soft_expiry.time_since_epoch())
              .count();
  auto bits = static_cast<uint64_t>(ms);
  std::string result;
  result.reserve(envelope_header_size + timestamp_size + x.data.size());
  result += static_cast<char>(timed_envelope_magic);
  result += static_cast<char>(x.codec);
  for (int shift = 56; shift >= 0; shift -= 8)
    result += static_cast<char>((bits >> shift) & 0xFF);
  result += x.data;
  return result;
}

std::optional<std::chrono::system_clock::time_point>
soft_expiry_of(std::string_view stored) {
  stored = strip_tags(stored);
  if (stored.size() < envelope_header_size + timestamp_size
      || static_cast<unsigned char>(stored[0]) != timed_envelope_magic)
    return std::nullopt;
  uint64_t bits = 0;
  for (size_t i = 0; i < timestamp_size; ++i)
    bits = (bits << 8)
           | static_cast<unsigned char>(stored[envelope_header_size + i]);
  // The clock counts nanoseconds and holds about 292 years either side of
  // 1970; a stored timestamp beyond that saturates instead of overflowing.
  using time_point = std::chrono::system_clock::time_point;
  using std::chrono::milliseconds;
  constexpr auto max_ms
    = std::chrono::duration_cast<milliseconds>(time_point::duration::max());
  constexpr auto min_ms
    = std::chrono::duration_cast<milliseconds>(time_point::duration::min());
  auto ms = static_cast<int64_t>(bits);
  if (ms > max_ms.count())
    return time_point::max();
  if (ms < min_ms.count())
    return time_point::min();
  return time_point{milliseconds(ms)};
}

std::optional<cache_value> decode_envelope(std::string_view stored) {
  stored = strip_tags(stored);
  size_t header = 0;
  if (stored.size() >= envelope_header_size
      && static_cast<unsigned char>(stored[0]) == envelope_magic)
    header = envelope_header_size;
  else if (stored.size() >= envelope_header_size + timestamp_size
           && static_cast<unsigned char>(stored[0]) == timed_envelope_magic)
    header = envelope_header_size + timestamp_size;
  else
    return std::nullopt;
  auto codec = static_cast<codec_kind>(static_cast<unsigned char>(stored[1]));
  auto body = stored.substr(header);
  // body_is_valid also rejects codec bytes outside the enum.
  if (!body_is_valid(codec, body))
    return std::nullopt;
  return cache_value{codec, std::string{body}};
}

std::string negative_envelope() {
  return std::string{static_cast<char>(envelope_magic), '\0'};
}

bool is_negative_envelope(std::string_view stored) {
  stored = strip_tags(stored);
  return stored.size() == 2
         && static_cast<unsigned char>(stored[0]) == envelope_magic
         && stored[1] == '\0';
}

std::string encode_tagged(std::string stored,
                          const std::vector<std::string>& tags) {
  if (tags.empty())
    return stored;
  std::string result;
  result += static_cast<char>(tagged_envelope_magic);
  result += static_cast<char>(std::min(tags.size(), max_tags));
  for (size_t i = 0; i < tags.size() && i < max_tags; ++i) {
    auto len = std::min(tags[i].size(), max_tag_bytes);
    result += static_cast<char>(len);
    result.append(tags[i], 0, len);
  }
  result += stored;
  return result;
}

namespace {

/// Calls f(tag) for every tag of a tagged envelope and returns the offset of
/// the inner envelope: 0 when not tagged, npos when the header is malformed.
template <class F>
size_t walk_tags(std::string_view stored, F&& f) {
  if (stored.empty()
      || static_cast<unsigned char>(stored[0]) != tagged_envelope_magic)
    return 0;
  if (stored.size() < 2)
    return std::string_view::npos;
  size_t count = static_cast<unsigned char>(stored[1]);
  size_t pos = 2;
  for (size_t i = 0; i < count; ++i) {
    if (pos >= stored.size())
      return std::string_view::npos;
    size_t len = static_cast<unsigned char>(stored[pos++]);
    if (stored.size() - pos < len)
      return std::string_view::npos;
    if (f(stored.substr(pos, len)))
      return pos + len; // Stop early; the offset is not used then.
    pos += len;
  }
  return pos;
}

} // namespace

std::string_view strip_tags(std::string_view stored) {
  auto offset = walk_tags(stored, [](std::string_view) { return false; });
  if (offset == std::string_view::npos)
    return {};
  return stored.substr(offset);
}

bool has_tag(std::string_view stored, std::string_view tag) {
  bool found = false;
  walk_tags(stored, [&](std::string_view x) {
    found = x == tag;
    return found;
  });
  return found;
}

} // namespace cafcache
