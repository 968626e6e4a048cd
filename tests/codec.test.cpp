#include "runtime/codec.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "caf/deep_to_string.hpp"

using namespace std::string_literals;
using cafcache::body_is_valid;
using cafcache::cache_value;
using cafcache::codec_kind;
using cafcache::decode_envelope;
using cafcache::encode_envelope;
using cafcache::pack;
using cafcache::unpack;

namespace {

struct point {
  int32_t x = 0;
  int32_t y = 0;
  std::string label;
  MSGPACK_DEFINE(x, y, label);
};

bool operator==(const point& a, const point& b) {
  return a.x == b.x && a.y == b.y && a.label == b.label;
}

struct settings {
  std::string name;
  std::vector<uint16_t> ports;
};

bool operator==(const settings& a, const settings& b) {
  return a.name == b.name && a.ports == b.ports;
}

void to_json(nlohmann::json& j, const settings& x) {
  j = nlohmann::json{{"name", x.name}, {"ports", x.ports}};
}

void from_json(const nlohmann::json& j, settings& x) {
  j.at("name").get_to(x.name);
  j.at("ports").get_to(x.ports);
}

cache_value make_value(codec_kind codec, std::string data) {
  return cache_value{codec, std::move(data)};
}

std::string envelope(uint8_t codec, const std::string& body) {
  std::string result;
  result += static_cast<char>(0xCA);
  result += static_cast<char>(codec);
  return result + body;
}

} // namespace

TEST_SUITE("codec") {

TEST_CASE("msgpack round-trips a struct with MSGPACK_DEFINE") {
  point p{3, -4, "a\0b"s};
  auto value = pack(p);
  CHECK(value.codec == codec_kind::msgpack);
  CHECK(body_is_valid(codec_kind::msgpack, value.data));
  auto back = unpack<point>(value);
  REQUIRE(back.has_value());
  CHECK(*back == p);
}

TEST_CASE("msgpack round-trips standard containers and strings") {
  std::map<std::string, std::vector<int64_t>> m{{"a", {1, -2, INT64_MIN}},
                                                {"b", {}}};
  auto back = unpack<decltype(m)>(pack(m));
  REQUIRE(back.has_value());
  CHECK(*back == m);
  auto text = unpack<std::string>(pack("hello"s));
  REQUIRE(text.has_value());
  CHECK(*text == "hello");
}

TEST_CASE("json round-trips a struct with to_json and from_json") {
  settings s{"primary", {6379, 6380}};
  auto value = pack<codec_kind::json>(s);
  CHECK(value.codec == codec_kind::json);
  CHECK(nlohmann::json::parse(value.data)
        == nlohmann::json{{"name", "primary"}, {"ports", {6379, 6380}}});
  auto back = unpack<settings, codec_kind::json>(value);
  REQUIRE(back.has_value());
  CHECK(*back == s);
}

TEST_CASE("raw stores bytes unchanged and round-trips byte containers") {
  auto bytes = "\xCA\x01\0\r\nend"s;
  auto value = pack<codec_kind::raw>(bytes);
  CHECK(value.codec == codec_kind::raw);
  CHECK(value.data == bytes);
  auto as_string = unpack<std::string, codec_kind::raw>(value);
  REQUIRE(as_string.has_value());
  CHECK(*as_string == bytes);
  auto as_uchars = unpack<std::vector<unsigned char>, codec_kind::raw>(value);
  REQUIRE(as_uchars.has_value());
  CHECK(as_uchars->size() == bytes.size());
  CHECK(as_uchars->front() == 0xCA);
  std::vector<std::byte> blob{std::byte{0}, std::byte{0xFF}};
  auto blob_value = pack<codec_kind::raw>(blob);
  CHECK(blob_value.data == "\0\xFF"s);
  CHECK(unpack<std::vector<std::byte>, codec_kind::raw>(blob_value) == blob);
  CHECK(pack<codec_kind::raw>(std::string_view{"view"}).data == "view");
  CHECK(unpack<std::vector<char>, codec_kind::raw>(
          pack<codec_kind::raw>(std::string{}))
        == std::vector<char>{});
}

TEST_CASE("envelopes start with the magic byte and the codec byte") {
  CHECK(encode_envelope(make_value(codec_kind::raw, "xy"))
        == "\xCA\x03xy"s);
  CHECK(encode_envelope(make_value(codec_kind::json, "1")) == "\xCA\x02" "1"s);
  CHECK(encode_envelope(pack(true)) == "\xCA\x01\xC3"s);
}

TEST_CASE("envelopes round-trip for every codec") {
  const std::vector<cache_value> values{
    pack(point{1, 2, "p"}),
    pack<codec_kind::json>(settings{"s", {1}}),
    pack<codec_kind::raw>("\0\xCA\xFF"s),
    make_value(codec_kind::raw, ""),
  };
  for (const auto& value : values) {
    auto back = decode_envelope(encode_envelope(value));
    REQUIRE(back.has_value());
    CHECK(*back == value);
  }
  auto p = unpack<point>(*decode_envelope(encode_envelope(pack(point{5, 6, ""}))));
  REQUIRE(p.has_value());
  CHECK(p->x == 5);
}

TEST_CASE("decode_envelope rejects garbage and foreign writers") {
  auto valid_msgpack = pack(point{1, 2, "label"}).data;
  const std::vector<std::string> rejected{
    "",
    "\xCA"s,
    "hello world",
    "{\"json\": true}",
    envelope(0x03, "body").replace(0, 1, "\xCB"),
    envelope(0x00, "body"),
    envelope(0x04, "body"),
    envelope(0xFF, "body"),
    envelope(0x01, ""),
    envelope(0x01, valid_msgpack.substr(0, valid_msgpack.size() - 1)),
    envelope(0x01, valid_msgpack + "\x00"s),
    envelope(0x01, valid_msgpack + valid_msgpack),
    envelope(0x01, "\xC1"s),
    envelope(0x02, ""),
    envelope(0x02, "{"),
    envelope(0x02, "{} x"),
    envelope(0x02, "{\"a\": 1,}"),
    envelope(0x02, "// comment\n1"),
    envelope(0x02, "\"\xFF\""s),
  };
  for (const auto& stored : rejected) {
    INFO("stored: ", caf::deep_to_string(std::vector<char>(stored.begin(),
                                                           stored.end())));
    CHECK_FALSE(decode_envelope(stored).has_value());
  }
}

TEST_CASE("forged msgpack headers are rejected without huge allocations") {
  const std::vector<std::string> forged{
    "\xDD\xFF\xFF\xFF\xFF"s,     // array32 claiming 2^32 - 1 elements
    "\xDF\xFF\xFF\xFF\xFF"s,     // map32 claiming 2^32 - 1 pairs
    "\xDB\xFF\xFF\xFF\xFF"s,     // str32 claiming 4 GiB
    "\xC9\xFF\xFF\xFF\xFF\x01"s, // ext32 at the size limit
  };
  auto start = std::chrono::steady_clock::now();
  for (const auto& body : forged) {
    CHECK_FALSE(body_is_valid(codec_kind::msgpack, body));
    CHECK_FALSE(decode_envelope(envelope(0x01, body)).has_value());
    CHECK_FALSE(unpack<std::vector<int>>(make_value(codec_kind::msgpack, body))
                  .has_value());
  }
  // A complete header with a few real elements must not allocate for the
  // claimed count either.
  auto padded = "\xDD\x7F\xFF\xFF\xFF"s + std::string(16, '\x01');
  CHECK_FALSE(
    unpack<std::vector<int>>(make_value(codec_kind::msgpack, padded))
      .has_value());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{5});
}

TEST_CASE("body_is_valid checks each codec's grammar") {
  CHECK(body_is_valid(codec_kind::raw, ""));
  CHECK(body_is_valid(codec_kind::raw, "\xC1\xFF"s));
  CHECK(body_is_valid(codec_kind::json, "null"));
  CHECK(body_is_valid(codec_kind::json, " [1, 2.5, \"\xC3\xA4\"] "));
  CHECK_FALSE(body_is_valid(codec_kind::json, ""));
  CHECK_FALSE(body_is_valid(codec_kind::json, "nul"));
  CHECK(body_is_valid(codec_kind::msgpack, "\xC0"s));
  CHECK_FALSE(body_is_valid(codec_kind::msgpack, ""));
  CHECK_FALSE(body_is_valid(codec_kind::msgpack, "\x92\x01"s));
  CHECK_FALSE(body_is_valid(static_cast<codec_kind>(0), "anything"));
  CHECK_FALSE(body_is_valid(static_cast<codec_kind>(9), "anything"));
}

TEST_CASE("unpack of a wrong type gives nullopt") {
  CHECK_FALSE(unpack<point>(pack(42)).has_value());
  CHECK_FALSE(unpack<std::string>(pack(42)).has_value());
  CHECK_FALSE(unpack<int>(pack("42"s)).has_value());
  CHECK_FALSE(unpack<uint8_t>(pack(300)).has_value());
  CHECK_FALSE(unpack<std::vector<int>>(pack(point{1, 2, "x"})).has_value());
  auto json = pack<codec_kind::json>(settings{"s", {1}});
  CHECK_FALSE((unpack<int, codec_kind::json>(json)).has_value());
  CHECK_FALSE((unpack<settings, codec_kind::json>(
                 make_value(codec_kind::json, "{\"name\": \"s\"}")))
                .has_value());
  CHECK_FALSE((unpack<settings, codec_kind::json>(
                 make_value(codec_kind::json, "{\"name\": 1, \"ports\": []}")))
                .has_value());
}

TEST_CASE("unpack gives nullopt for a codec mismatch or a malformed body") {
  CHECK_FALSE((unpack<int, codec_kind::json>(pack(1))).has_value());
  CHECK_FALSE(unpack<std::string>(pack<codec_kind::raw>("x"s)).has_value());
  CHECK_FALSE((unpack<std::string, codec_kind::raw>(pack("x"s))).has_value());
  CHECK_FALSE(
    unpack<int>(make_value(codec_kind::msgpack, "\xC1"s)).has_value());
  CHECK_FALSE(unpack<int>(make_value(codec_kind::msgpack, "")).has_value());
  CHECK_FALSE(
    unpack<int>(make_value(codec_kind::msgpack, "\x01\x02"s)).has_value());
  CHECK_FALSE((unpack<int, codec_kind::json>(
                 make_value(codec_kind::json, "1 2")))
                .has_value());
  CHECK_FALSE((unpack<int, codec_kind::json>(make_value(codec_kind::json, "")))
                .has_value());
}

TEST_CASE("json numbers outside the target type give nullopt") {
  auto json = [](const char* text) {
    return make_value(codec_kind::json, text);
  };
  CHECK_FALSE((unpack<int64_t, codec_kind::json>(json("4.4e25"))).has_value());
  CHECK_FALSE(
    (unpack<int64_t, codec_kind::json>(json("9223372036854775808")))
      .has_value());
  CHECK_FALSE((unpack<int32_t, codec_kind::json>(json("4294967296")))
                .has_value());
  CHECK_FALSE((unpack<uint16_t, codec_kind::json>(json("-1"))).has_value());
  CHECK_FALSE((unpack<uint64_t, codec_kind::json>(json("-0.5e1"))).has_value());
  CHECK((unpack<int64_t, codec_kind::json>(json("-9223372036854775808")))
        == INT64_MIN);
  CHECK((unpack<uint64_t, codec_kind::json>(json("18446744073709551615")))
        == UINT64_MAX);
  CHECK((unpack<int8_t, codec_kind::json>(json("-128.0"))) == -128);
  CHECK((unpack<double, codec_kind::json>(json("4.4e25"))) == 4.4e25);
}

TEST_CASE("json bodies with a NUL byte are malformed") {
  // nlohmann::json stops reading at the NUL and would take the garbage after.
  auto body = "[1]\0garbage"s;
  CHECK_FALSE(body_is_valid(codec_kind::json, body));
  CHECK_FALSE(decode_envelope(envelope(2, body)).has_value());
  CHECK_FALSE((unpack<std::vector<int>, codec_kind::json>(
                 make_value(codec_kind::json, body)))
                .has_value());
}

TEST_CASE("json pack reports strings that are not UTF-8") {
  CHECK_THROWS_AS(pack<codec_kind::json>("\xFF"s), nlohmann::json::type_error);
}

TEST_CASE("equality compares codec and bytes") {
  CHECK(make_value(codec_kind::raw, "a") == make_value(codec_kind::raw, "a"));
  CHECK(make_value(codec_kind::raw, "a") != make_value(codec_kind::raw, "b"));
  CHECK(make_value(codec_kind::raw, "1") != make_value(codec_kind::json, "1"));
}

TEST_CASE("codecs have readable names") {
  CHECK(std::string{to_string(codec_kind::msgpack)} == "msgpack");
  CHECK(std::string{to_string(codec_kind::json)} == "json");
  CHECK(std::string{to_string(codec_kind::raw)} == "raw");
  CHECK(std::string{to_string(static_cast<codec_kind>(0))} == "<invalid>");
}

TEST_CASE("soft expiries beyond the clock's range saturate") {
  using time_point = std::chrono::system_clock::time_point;
  auto timed = [](uint64_t ms) {
    std::string result{static_cast<char>(0xCB), static_cast<char>(3)};
    for (int shift = 56; shift >= 0; shift -= 8)
      result += static_cast<char>((ms >> shift) & 0xFF);
    return result + "x";
  };
  // 2^61 ms would overflow the clock's nanoseconds; so would -2^61 ms.
  CHECK(cafcache::soft_expiry_of(timed(uint64_t{1} << 61)) == time_point::max());
  CHECK(cafcache::soft_expiry_of(timed(uint64_t{0xE} << 60))
        == time_point::min());
  CHECK(cafcache::soft_expiry_of(timed(1700000000000))
        == time_point{std::chrono::milliseconds(1700000000000)});
  CHECK(decode_envelope(timed(uint64_t{1} << 61))
        == make_value(codec_kind::raw, "x"));
}

TEST_CASE("cache_value round-trips through CAF's binary serialization") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  for (const auto& x : {pack(point{7, 8, "\0\xFF"s}),
                        pack<codec_kind::json>(settings{"s", {1, 2}}),
                        make_value(codec_kind::raw, "")}) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE(!sink(const_cast<cache_value&>(x)));
    cache_value y;
    caf::binary_deserializer source{sys, buf};
    REQUIRE(!source(y));
    CHECK(y == x);
  }
}

TEST_CASE("CAF prints cache_value with its type name and codec name") {
  auto printed = caf::deep_to_string(pack<codec_kind::json>(1));
  CHECK(printed.find("cafcache.cache_value") != std::string::npos);
  CHECK(printed.find("json") != std::string::npos);
}

TEST_CASE("tagged envelopes carry their tags and decode like the inner one") {
  using cafcache::encode_tagged;
  using cafcache::has_tag;
  using cafcache::strip_tags;
  auto inner = encode_envelope(make_value(codec_kind::raw, "body"));
  CHECK(encode_tagged(inner, {}) == inner);
  auto stored = encode_tagged(inner, {"team:7", "eu"});
  CHECK(stored == "\xCC\x02\x06team:7\x02" "eu"s + inner);
  CHECK(strip_tags(stored) == inner);
  CHECK(has_tag(stored, "team:7"));
  CHECK(has_tag(stored, "eu"));
  CHECK_FALSE(has_tag(stored, "team"));
  CHECK_FALSE(has_tag(inner, "eu"));
  REQUIRE(decode_envelope(stored).has_value());
  CHECK(decode_envelope(stored)->data == "body");
  // Soft expiry and the negative marker read through the tag header too.
  auto soft = std::chrono::system_clock::time_point{std::chrono::seconds(5)};
  auto timed = encode_tagged(encode_envelope(make_value(codec_kind::raw, "x"),
                                             soft),
                             {"t"});
  REQUIRE(cafcache::soft_expiry_of(timed).has_value());
  CHECK(*cafcache::soft_expiry_of(timed) == soft);
  CHECK(cafcache::is_negative_envelope(
    encode_tagged(cafcache::negative_envelope(), {"t"})));
  // Truncated headers are malformed, never read past the end.
  for (size_t n = 1; n < 12; ++n) {
    auto cut = stored.substr(0, n);
    CHECK_FALSE(decode_envelope(cut).has_value());
  }
  CHECK(strip_tags("\xCC\x05\x01"s).empty());
  // A tagged envelope inside another is not ours.
  CHECK_FALSE(decode_envelope(encode_tagged(stored, {"x"})).has_value());
}

} // TEST_SUITE
