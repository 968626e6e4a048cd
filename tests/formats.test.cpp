// The bytes docs/formats.md documents: every hex dump of the document is one
// of the examples below, and every example is in the document, so a change
// of format or of the document fails here; the same for the two scripts of
// docs/commands.md.

#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/coherence.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/commands.hpp"
#include "runtime/get_reply.hpp"
#include "runtime/resp.hpp"

using namespace cafcache;
using namespace std::string_literals;

namespace {

/// What the document says about an example.
enum class role {
  /// cafcache's encoders produce exactly these bytes.
  encoded,
  /// Written by hand; cafcache reads it as a value.
  hand_value,
  /// Written by hand; cafcache applies it as a coherence message.
  hand_message,
  /// Written by hand; cafcache reads it as a miss and a decode error.
  foreign,
  /// Written by hand; a coherence message cafcache ignores.
  ignored,
};

struct example {
  const char* name;
  role what;
  const char* hex;
};

// In the order of docs/formats.md.
const example examples[] = {
  {"value key", role::encoded,
   "63 61 66 63 61 63 68 65 3a 75 73 65 72 3a 37"},
  {"tag-set key", role::encoded, "63 61 66 63 61 63 68 65 3a ff 65 75"},
  {"cluster tag-set key", role::encoded,
   "63 61 66 63 61 63 68 65 3a ff 7b 66 73 7d 65 75"},
  {"channel", role::encoded,
   "63 61 66 63 61 63 68 65 3a ff 69 6e 76 61 6c 69 64 61 74 69 6f 6e 73"},
  {"plain msgpack", role::encoded, "ca 01 81 a2 69 64 07"},
  {"plain json", role::encoded, "ca 02 7b 22 69 64 22 3a 37 7d"},
  {"plain raw", role::encoded, "ca 03 68 69"},
  {"plain raw empty", role::encoded, "ca 03"},
  {"negative marker", role::encoded, "ca 00"},
  {"timed raw", role::encoded, "cb 03 00 00 01 8c c2 51 f4 00 68 69"},
  {"tagged raw", role::encoded, "cc 02 02 65 75 03 76 69 70 ca 03 68 69"},
  {"tagged timed msgpack", role::encoded,
   "cc 01 02 65 75 cb 01 00 00 01 8c c2 51 f4 00 81 a2 69 64 07"},
  {"tagged negative marker", role::encoded, "cc 01 02 65 75 ca 00"},
  {"hand msgpack array", role::hand_value, "ca 01 93 01 02 03"},
  {"hand json with spaces", role::hand_value,
   "ca 02 20 5b 31 2c 20 32 5d 0a"},
  {"hand timed json at the epoch", role::hand_value,
   "cb 02 00 00 00 00 00 00 00 00 6e 75 6c 6c"},
  {"bare json", role::foreign, "7b 22 69 64 22 3a 37 7d"},
  {"magic alone", role::foreign, "ca"},
  {"unknown codec", role::foreign, "ca 04 68 69"},
  {"codec 0 with a body", role::foreign, "ca 00 68 69"},
  {"empty msgpack", role::foreign, "ca 01"},
  {"truncated msgpack", role::foreign, "ca 01 81 a2 69 64"},
  {"two msgpack objects", role::foreign, "ca 01 c0 c0"},
  {"msgpack 0xc1", role::foreign, "ca 01 c1"},
  {"json with NUL", role::foreign, "ca 02 7b 7d 00"},
  {"json NaN", role::foreign, "ca 02 4e 61 4e"},
  {"json overflowing number", role::foreign, "ca 02 31 65 39 39 39"},
  {"json lone surrogate", role::foreign,
   "ca 02 22 5c 75 64 38 30 30 22"},
  {"short timed", role::foreign, "cb 03 00 00 01 8c c2 51 f4"},
  {"timed codec 0", role::foreign, "cb 00 00 00 01 8c c2 51 f4 00"},
  {"truncated tag header", role::foreign, "cc 02 02 65 75"},
  {"tags without envelope", role::foreign, "cc 01 02 65 75"},
  {"tagged inside tagged", role::foreign,
   "cc 01 02 65 75 cc 01 01 78 ca 03 68 69"},
  {"key message", role::encoded,
   "01 23 45 67 89 ab cd ef 6b 75 73 65 72 3a 37"},
  {"tag message", role::encoded, "01 23 45 67 89 ab cd ef 74 65 75"},
  {"everything message", role::encoded, "01 23 45 67 89 ab cd ef 61"},
  {"keys message", role::encoded,
   "01 23 45 67 89 ab cd ef 4b 00 00 00 06 75 73 65 72 3a 37 00 00 00 01 78"},
  {"hand key message", role::hand_message,
   "00 00 00 00 00 00 00 02 6b 75 73 65 72 3a 37"},
  {"no scope", role::ignored, "01 23 45 67 89 ab cd ef"},
  {"key message without key", role::ignored, "01 23 45 67 89 ab cd ef 6b"},
  {"tag message without tag", role::ignored, "01 23 45 67 89 ab cd ef 74"},
  {"unknown scope", role::ignored, "01 23 45 67 89 ab cd ef 78 6b 31"},
  {"keys message with a short key", role::ignored,
   "01 23 45 67 89 ab cd ef 4b 00 00 00 02 78"},
};

/// The bytes of a hex dump: pairs of hex digits separated by white space; a
/// `#` starts a comment up to the end of the line. Empty for anything else.
std::string bytes_of(std::string_view dump) {
  std::string out;
  bool comment = false;
  std::string digits;
  auto is_hex = [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  };
  auto flush = [&] {
    if (digits.empty())
      return true;
    if (digits.size() != 2 || !is_hex(digits[0]) || !is_hex(digits[1]))
      return false;
    out += static_cast<char>(std::stoi(digits, nullptr, 16));
    digits.clear();
    return true;
  };
  for (char c : dump) {
    if (c == '\n')
      comment = false;
    if (comment)
      continue;
    if (c == '#' || std::isspace(static_cast<unsigned char>(c))) {
      if (!flush())
        return {};
      comment = comment || c == '#';
    } else {
      digits += c;
    }
  }
  if (!flush())
    return {};
  return out;
}

/// The bytes of the example named `name`.
std::string ex(std::string_view name) {
  for (auto& x : examples)
    if (name == x.name)
      return bytes_of(x.hex);
  FAIL("no example named " << name);
  return {};
}

const std::string prefix = "cafcache:";

const auto soft_expiry = std::chrono::system_clock::time_point{
  std::chrono::milliseconds(1704067200000)}; // 2024-01-01T00:00:00Z

const std::map<std::string, int> id_7{{"id", 7}};

get_reading read_get(const std::string& stored) {
  resp_value reply;
  reply.type = resp_value::kind::string;
  reply.str = stored;
  return read_get_reply(reply);
}

/// docs/formats.md (the bytes) or docs/commands.md (the scripts).
std::string read_document(const char* name = "formats.md") {
  std::ifstream in{std::string{CAFCACHE_SOURCE_DIR "/docs/"} + name};
  REQUIRE_MESSAGE(in.good(), name);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// The document's hex dumps: each ```hex block, and each table row whose
/// first cell is a code span of hex digits.
std::vector<std::string> dumps_of(const std::string& doc) {
  std::vector<std::string> out;
  std::istringstream lines{doc};
  std::string line;
  std::string block;
  bool in_hex = false;
  while (std::getline(lines, line)) {
    if (in_hex) {
      if (line.rfind("```", 0) == 0) {
        out.push_back(block);
        in_hex = false;
      } else {
        block += line + "\n";
      }
    } else if (line == "```hex") {
      in_hex = true;
      block.clear();
    } else if (line.rfind("| `", 0) == 0) {
      auto end = line.find('`', 3);
      auto cell = line.substr(3, end - 3);
      if (end != std::string::npos && !bytes_of(cell).empty())
        out.push_back(cell);
    }
  }
  return out;
}

/// The contents of the document's ```lua blocks.
std::vector<std::string> scripts_of(const std::string& doc) {
  std::vector<std::string> out;
  std::istringstream lines{doc};
  std::string line;
  bool in_lua = false;
  while (std::getline(lines, line)) {
    if (in_lua && line.rfind("```", 0) == 0)
      in_lua = false;
    else if (in_lua)
      out.back() += line + "\n";
    else if (line == "```lua") {
      in_lua = true;
      out.emplace_back();
    }
  }
  return out;
}

} // namespace

TEST_SUITE("formats") {

TEST_CASE("formats: keys, tag-set keys and the channel live under the prefix") {
  auto argv = commands::set(prefix, "user:7", ex("plain raw"),
                            std::chrono::seconds(60), {});
  REQUIRE(argv.size() == 5);
  CHECK(argv[1] == ex("value key"));
  CHECK(commands::tag_set_key(prefix, "eu") == ex("tag-set key"));
  auto slot = key_slot(prefix, "user:7");
  CHECK(slot == 12152);
  CHECK(commands::tag_set_key(prefix, "eu", slot) == ex("cluster tag-set key"));
  auto tagged = commands::set(prefix, "user:7", "x", std::chrono::seconds(1),
                              {"eu"}, commands::tag_layout::per_slot);
  REQUIRE(tagged.size() == 7);
  CHECK(tagged[4] == ex("cluster tag-set key"));
  CHECK(coherence::channel(prefix) == ex("channel"));
}

TEST_CASE("formats: plain envelopes are magic 0xCA, the codec byte, the body") {
  CHECK(encode_envelope(pack(id_7)) == ex("plain msgpack"));
  CHECK(encode_envelope(pack<codec_kind::json>(id_7)) == ex("plain json"));
  CHECK(encode_envelope(pack<codec_kind::raw>("hi"s)) == ex("plain raw"));
  CHECK(encode_envelope(pack<codec_kind::raw>(""s)) == ex("plain raw empty"));
  using map = std::map<std::string, int>;
  CHECK(unpack<map>(*decode_envelope(ex("plain msgpack"))) == id_7);
  CHECK(unpack<map, codec_kind::json>(*decode_envelope(ex("plain json")))
        == id_7);
  CHECK(*decode_envelope(ex("plain raw"))
        == cache_value{codec_kind::raw, "hi"});
  CHECK(*decode_envelope(ex("plain raw empty"))
        == cache_value{codec_kind::raw, ""});
  CHECK(static_cast<int>(codec_kind::msgpack) == 1);
  CHECK(static_cast<int>(codec_kind::json) == 2);
  CHECK(static_cast<int>(codec_kind::raw) == 3);
}

TEST_CASE("formats: the negative marker is a miss, not a decode error") {
  CHECK(negative_envelope() == ex("negative marker"));
  CHECK(is_negative_envelope(ex("negative marker")));
  CHECK_FALSE(decode_envelope(ex("negative marker")).has_value());
  CHECK(read_get(ex("negative marker")).kind == served_kind::negative);
  CHECK(read_get(ex("tagged negative marker")).kind == served_kind::negative);
}

TEST_CASE("formats: timed envelopes carry the soft expiry in 8 bytes "
          "big-endian") {
  auto stored = encode_envelope(pack<codec_kind::raw>("hi"s), soft_expiry);
  CHECK(stored == ex("timed raw"));
  CHECK(soft_expiry_of(stored) == soft_expiry);
  CHECK(*decode_envelope(stored) == cache_value{codec_kind::raw, "hi"});
  CHECK_FALSE(soft_expiry_of(ex("plain raw")).has_value());
  // The timestamp is signed: -1 is one millisecond before the epoch.
  auto before = "\xCB\x03"s + std::string(8, '\xFF') + "x";
  CHECK(soft_expiry_of(before)
        == std::chrono::system_clock::time_point{
          std::chrono::milliseconds(-1)});
}

TEST_CASE("formats: tagged envelopes put the tags before an inner envelope") {
  auto plain = encode_envelope(pack<codec_kind::raw>("hi"s));
  CHECK(encode_tagged(plain, {"eu", "vip"}) == ex("tagged raw"));
  CHECK(encode_tagged(encode_envelope(pack(id_7), soft_expiry), {"eu"})
        == ex("tagged timed msgpack"));
  CHECK(encode_tagged(negative_envelope(), {"eu"})
        == ex("tagged negative marker"));
  CHECK(encode_tagged(plain, {}) == plain);
  CHECK(strip_tags(ex("tagged raw")) == plain);
  CHECK(has_tag(ex("tagged raw"), "vip"));
  CHECK(*decode_envelope(ex("tagged raw")) == cache_value{codec_kind::raw,
                                                          "hi"});
  CHECK(soft_expiry_of(ex("tagged timed msgpack")) == soft_expiry);
  // Leniencies of this reader that writers must not rely on.
  CHECK(decode_envelope("\xCC\x00\xCA\x03hi"s).has_value());
  CHECK(decode_envelope("\xCC\x01\x00\xCA\x03hi"s).has_value());
}

TEST_CASE("formats: hand-written values decode") {
  auto array = decode_envelope(ex("hand msgpack array"));
  REQUIRE(array.has_value());
  CHECK(unpack<std::vector<int>>(*array) == std::vector<int>{1, 2, 3});
  auto spaced = decode_envelope(ex("hand json with spaces"));
  REQUIRE(spaced.has_value());
  CHECK(unpack<std::vector<int>, codec_kind::json>(*spaced)
        == std::vector<int>{1, 2});
  auto epoch = ex("hand timed json at the epoch");
  REQUIRE(decode_envelope(epoch).has_value());
  CHECK(decode_envelope(epoch)->data == "null");
  CHECK(soft_expiry_of(epoch) == std::chrono::system_clock::time_point{});
  for (auto& x : examples)
    if (x.what == role::hand_value)
      CHECK_MESSAGE(read_get(bytes_of(x.hex)).kind == served_kind::hit,
                    std::string{x.name});
}

TEST_CASE("formats: foreign values are misses counted as decode errors") {
  size_t foreign = 0;
  for (auto& x : examples) {
    if (x.what != role::foreign)
      continue;
    ++foreign;
    std::string name{x.name};
    INFO(name);
    auto stored = bytes_of(x.hex);
    REQUIRE_FALSE(stored.empty());
    CHECK_FALSE(decode_envelope(stored).has_value());
    CHECK_FALSE(is_negative_envelope(stored));
    auto r = read_get(stored);
    CHECK_FALSE(r.failed);
    CHECK(r.kind == served_kind::undecodable);
    CHECK_FALSE(r.answer.found);
  }
  CHECK(foreign > 0);
  resp_value wrongtype;
  wrongtype.type = resp_value::kind::error;
  wrongtype.str = "WRONGTYPE Operation against a key holding the wrong kind "
                  "of value";
  CHECK(read_get_reply(wrongtype).kind == served_kind::undecodable);
}

TEST_CASE("formats: writes are SET PX, tagged writes and tag invalidations "
          "EVAL") {
  auto stored = ex("plain raw");
  CHECK(commands::set(prefix, "user:7", stored, std::chrono::seconds(60), {})
        == std::vector<std::string>{"SET", ex("value key"), stored, "PX",
                                    "60000"});
  auto tagged = ex("tagged raw");
  CHECK(commands::set(prefix, "user:7", tagged, std::chrono::seconds(60),
                      {"eu", "vip"})
        == std::vector<std::string>{"EVAL", commands::set_tagged_script, "3",
                                    ex("value key"), ex("tag-set key"),
                                    prefix + "\xFFvip", tagged, "60000"});
  CHECK(commands::invalidate_tag(prefix, "eu")
        == std::vector<std::string>{"EVAL", commands::invalidate_tag_script,
                                    "1", ex("tag-set key"), prefix});
  // Milliseconds, truncated, at least 1.
  CHECK(commands::ttl_millis(std::chrono::microseconds(1999)) == "1");
  CHECK(commands::ttl_millis(std::chrono::microseconds(2999)) == "2");
  CHECK(commands::ttl_millis(std::chrono::nanoseconds(0)) == "1");
}

TEST_CASE("formats: coherence messages are node id, scope byte, name") {
  const uint64_t node = 0x0123456789ABCDEF;
  CHECK(coherence::encode(node, coherence::scope::key, "user:7")
        == ex("key message"));
  CHECK(coherence::encode(node, coherence::scope::tag, "eu")
        == ex("tag message"));
  CHECK(coherence::encode(node, coherence::scope::all, "")
        == ex("everything message"));
  CHECK(coherence::encode_keys(node, {"user:7", "x"}) == ex("keys message"));
  auto keys = coherence::decode(ex("keys message"));
  REQUIRE(keys.has_value());
  CHECK(keys->scope == coherence::scope::key);
  CHECK(keys->names == std::vector<std::string>{"user:7", "x"});
  auto key = coherence::decode(ex("hand key message"));
  REQUIRE(key.has_value());
  CHECK(key->node == 2);
  CHECK(key->scope == coherence::scope::key);
  CHECK(key->names == std::vector<std::string>{"user:7"});
  auto all = coherence::decode(ex("everything message"));
  REQUIRE(all.has_value());
  CHECK(all->node == node);
  CHECK(all->scope == coherence::scope::all);
  CHECK(all->names.empty());
  for (auto& x : examples)
    if (x.what == role::ignored)
      CHECK_MESSAGE(!coherence::decode(bytes_of(x.hex)).has_value(),
                    std::string{x.name});
}

TEST_CASE("formats: docs/formats.md shows exactly these examples, "
          "docs/commands.md these scripts") {
  auto doc = read_document();
  std::set<std::string> documented;
  for (auto& dump : dumps_of(doc)) {
    auto bytes = bytes_of(dump);
    CHECK_MESSAGE(!bytes.empty(), "not a hex dump: " << dump);
    documented.insert(bytes);
  }
  std::set<std::string> tested;
  for (auto& x : examples) {
    auto bytes = bytes_of(x.hex);
    REQUIRE_MESSAGE(!bytes.empty(), std::string{x.name});
    tested.insert(bytes);
    CHECK_MESSAGE(documented.count(bytes) == 1,
                  "example missing in docs/formats.md: "
                    << std::string{x.name});
  }
  CHECK(documented.size() == tested.size());
  for (auto& dump : dumps_of(doc))
    CHECK_MESSAGE(tested.count(bytes_of(dump)) == 1,
                  "docs/formats.md shows bytes no test checks: " << dump);
  CHECK(scripts_of(doc).empty());
  auto scripts = scripts_of(read_document("commands.md"));
  CHECK(dumps_of(read_document("commands.md")).empty());
  REQUIRE(scripts.size() == 2);
  // The scripts' source starts with a newline after R"lua(.
  CHECK(scripts[0] == std::string{commands::set_tagged_script}.substr(1));
  CHECK(scripts[1] == std::string{commands::invalidate_tag_script}.substr(1));
}

} // TEST_SUITE
