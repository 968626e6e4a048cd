#include "runtime/resp.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "caf/deep_to_string.hpp"

using namespace std::string_literals;
using cafcache::append_command;
using cafcache::resp_reader;
using cafcache::resp_value;
using kind = cafcache::resp_value::kind;
using status = cafcache::resp_reader::status;

namespace {

// Feeds input in one piece and expects exactly one complete reply.
resp_value parse_one(const std::string& input) {
  resp_reader reader;
  reader.feed(input.data(), input.size());
  resp_value out;
  REQUIRE(reader.next(out) == status::reply);
  resp_value extra;
  CHECK(reader.next(extra) == status::need_more);
  return out;
}

resp_value make_string(std::string str) {
  resp_value x;
  x.type = kind::string;
  x.str = std::move(str);
  return x;
}

resp_value make_integer(int64_t value) {
  resp_value x;
  x.type = kind::integer;
  x.integer = value;
  return x;
}

resp_value make_array(std::vector<resp_value> elements) {
  resp_value x;
  x.type = kind::array;
  x.elements = std::move(elements);
  return x;
}

} // namespace

TEST_SUITE("resp") {

TEST_CASE("status replies carry their text and OK is recognized") {
  auto ok = parse_one("+OK\r\n");
  CHECK(ok.type == kind::status);
  CHECK(ok.str == "OK");
  CHECK(ok.is_ok());
  CHECK_FALSE(ok.is_error());
  CHECK_FALSE(ok.is_nil());
  auto queued = parse_one("+QUEUED\r\n");
  CHECK(queued.type == kind::status);
  CHECK(queued.str == "QUEUED");
  CHECK_FALSE(queued.is_ok());
}

TEST_CASE("error replies carry their text") {
  auto x = parse_one("-WRONGTYPE Operation against a key\r\n");
  CHECK(x.is_error());
  CHECK(x.str == "WRONGTYPE Operation against a key");
  CHECK_FALSE(x.is_ok());
}

TEST_CASE("integer replies cover the full int64 range") {
  CHECK(parse_one(":0\r\n") == make_integer(0));
  CHECK(parse_one(":-42\r\n") == make_integer(-42));
  CHECK(parse_one(":9223372036854775807\r\n")
        == make_integer(INT64_MAX));
  CHECK(parse_one(":-9223372036854775808\r\n")
        == make_integer(INT64_MIN));
}

TEST_CASE("nil bulk strings and nil arrays both become nil") {
  auto bulk = parse_one("$-1\r\n");
  CHECK(bulk.is_nil());
  CHECK(bulk.type == kind::nil);
  auto array = parse_one("*-1\r\n");
  CHECK(array.is_nil());
}

TEST_CASE("empty bulk strings and empty arrays are not nil") {
  CHECK(parse_one("$0\r\n\r\n") == make_string(""));
  auto empty = parse_one("*0\r\n");
  CHECK(empty.type == kind::array);
  CHECK(empty.elements.empty());
}

TEST_CASE("nested arrays keep their structure and nil elements") {
  auto x = parse_one("*3\r\n"
                     "*2\r\n:1\r\n$3\r\nfoo\r\n"
                     "$-1\r\n"
                     "*1\r\n*1\r\n-ERR inner\r\n");
  REQUIRE(x.type == kind::array);
  REQUIRE(x.elements.size() == 3);
  CHECK(x.elements[0] == make_array({make_integer(1), make_string("foo")}));
  CHECK(x.elements[1].is_nil());
  REQUIRE(x.elements[2].elements.size() == 1);
  REQUIRE(x.elements[2].elements[0].elements.size() == 1);
  CHECK(x.elements[2].elements[0].elements[0].is_error());
  CHECK(x.elements[2].elements[0].elements[0].str == "ERR inner");
}

TEST_CASE("nesting beyond hiredis's depth limit is a protocol error") {
  // hiredis 0.14 supports seven nested levels below the top-level array.
  auto nested = [](int depth) {
    std::string result;
    for (int i = 0; i < depth; ++i)
      result += "*1\r\n";
    return result + ":1\r\n";
  };
  auto deepest = parse_one(nested(8));
  for (int i = 0; i < 8; ++i) {
    REQUIRE(deepest.elements.size() == 1);
    deepest = resp_value{deepest.elements[0]};
  }
  CHECK(deepest == make_integer(1));
  resp_reader reader;
  auto too_deep = nested(9);
  reader.feed(too_deep.data(), too_deep.size());
  resp_value out;
  CHECK(reader.next(out) == status::protocol_error);
  CHECK_FALSE(reader.error_text().empty());
}

TEST_CASE("bulk strings are binary-safe") {
  auto payload = "a\0b\r\nc\r\n\xff\xca"s;
  auto input = "$" + std::to_string(payload.size()) + "\r\n" + payload
               + "\r\n";
  auto x = parse_one(input);
  CHECK(x.type == kind::string);
  CHECK(x.str.size() == payload.size());
  CHECK(x.str == payload);
}

TEST_CASE("an 8 MiB bulk string arrives intact in chunks and in one piece") {
  std::string payload(8u << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i * 31 + 7);
  auto input = "$" + std::to_string(payload.size()) + "\r\n" + payload
               + "\r\n";
  SUBCASE("in 64 KiB chunks") {
    resp_reader reader;
    resp_value out;
    constexpr size_t chunk = 64 * 1024;
    for (size_t pos = 0; pos < input.size(); pos += chunk) {
      CHECK(reader.next(out) == status::need_more);
      reader.feed(input.data() + pos, std::min(chunk, input.size() - pos));
    }
    REQUIRE(reader.next(out) == status::reply);
    CHECK(out.type == kind::string);
    CHECK(out.str == payload);
  }
  SUBCASE("in one piece") {
    CHECK(parse_one(input).str == payload);
  }
}

TEST_CASE("a reply fed byte by byte completes only with its last byte") {
  std::string input = "*4\r\n+OK\r\n$5\r\nhe\0lo\r\n:-7\r\n*2\r\n$-1\r\n-E\r\n"s;
  resp_reader reader;
  resp_value out;
  for (size_t i = 0; i + 1 < input.size(); ++i) {
    reader.feed(input.data() + i, 1);
    REQUIRE(reader.next(out) == status::need_more);
  }
  reader.feed(input.data() + input.size() - 1, 1);
  REQUIRE(reader.next(out) == status::reply);
  REQUIRE(out.elements.size() == 4);
  CHECK(out.elements[0].is_ok());
  CHECK(out.elements[1] == make_string("he\0lo"s));
  CHECK(out.elements[2] == make_integer(-7));
  CHECK(out.elements[3].elements[0].is_nil());
  CHECK(out.elements[3].elements[1].is_error());
  CHECK(reader.next(out) == status::need_more);
}

TEST_CASE("many replies in one feed come out in order") {
  std::string input;
  for (int i = 0; i < 1000; ++i)
    input += ":" + std::to_string(i) + "\r\n";
  input += "+DONE\r\n$3\r\nhe"; // a trailing partial reply stays buffered
  resp_reader reader;
  reader.feed(input.data(), input.size());
  resp_value out;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(reader.next(out) == status::reply);
    CHECK(out == make_integer(i));
  }
  REQUIRE(reader.next(out) == status::reply);
  CHECK(out.str == "DONE");
  CHECK(reader.next(out) == status::need_more);
  reader.feed("y\r\n", 3);
  REQUIRE(reader.next(out) == status::reply);
  CHECK(out == make_string("hey"));
}

TEST_CASE("next leaves out untouched unless it returns a reply") {
  resp_reader reader;
  auto out = make_string("sentinel");
  CHECK(reader.next(out) == status::need_more);
  CHECK(out == make_string("sentinel"));
  reader.feed("?", 1);
  CHECK(reader.next(out) == status::protocol_error);
  CHECK(out == make_string("sentinel"));
}

TEST_CASE("garbage is a protocol error that sticks") {
  resp_reader reader;
  CHECK(reader.error_text().empty());
  std::string garbage = "hello world\r\n";
  reader.feed(garbage.data(), garbage.size());
  resp_value out;
  CHECK(reader.next(out) == status::protocol_error);
  auto text = reader.error_text();
  CHECK_FALSE(text.empty());
  reader.feed("+OK\r\n", 5);
  CHECK(reader.next(out) == status::protocol_error);
  CHECK(reader.error_text() == text);
}

TEST_CASE("a bad bulk length is a protocol error") {
  resp_reader reader;
  reader.feed("$abc\r\n", 6);
  resp_value out;
  CHECK(reader.next(out) == status::protocol_error);
  CHECK_FALSE(reader.error_text().empty());
}

TEST_CASE("an array header announcing more than 2^20 elements is refused") {
  // hiredis would allocate a pointer per announced element at once: 16 GiB
  // for this header alone.
  resp_reader reader;
  auto huge = "*2147483647\r\n"s;
  reader.feed(huge.data(), huge.size());
  resp_value out;
  CHECK(reader.next(out) == status::protocol_error);
  CHECK(reader.error_text().find("announced more than 1048576 elements")
        != std::string::npos);
  resp_reader nested;
  auto inner = "*1\r\n*1048577\r\n"s;
  nested.feed(inner.data(), inner.size());
  CHECK(nested.next(out) == status::protocol_error);
  resp_reader at_limit;
  auto largest = "*1048576\r\n:1\r\n"s;
  at_limit.feed(largest.data(), largest.size());
  CHECK(at_limit.next(out) == status::need_more);
}

TEST_CASE("a moved reader keeps its buffered bytes") {
  resp_reader first;
  first.feed("$5\r\nhel", 7);
  resp_reader second{std::move(first)};
  second.feed("lo\r\n", 4);
  resp_value out;
  REQUIRE(second.next(out) == status::reply);
  CHECK(out == make_string("hello"));
  resp_reader third;
  third = std::move(second);
  third.feed(":1\r\n", 4);
  REQUIRE(third.next(out) == status::reply);
  CHECK(out == make_integer(1));
}

TEST_CASE("append_command matches hand-written RESP for binary arguments") {
  std::string buf = "prefix";
  append_command(buf, {"SET", "key", "a\0b\r\n"s, ""});
  CHECK(buf
        == "prefix*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\na\0b\r\n\r\n"
           "$0\r\n\r\n"s);
}

TEST_CASE("append_command appends several commands back to back") {
  std::string buf;
  append_command(buf, {"PING"});
  append_command(buf, {"GET", "k"});
  CHECK(buf == "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

TEST_CASE("append_command output parses back into the same arguments") {
  std::vector<std::string> argv{"SET", "k\0ey"s, std::string(70000, 'x'),
                                "\r\n\r\n"};
  std::string buf;
  append_command(buf, argv);
  auto x = parse_one(buf);
  REQUIRE(x.type == kind::array);
  REQUIRE(x.elements.size() == argv.size());
  for (size_t i = 0; i < argv.size(); ++i)
    CHECK(x.elements[i] == make_string(argv[i]));
}

TEST_CASE("equality compares form and content") {
  CHECK(make_string("a") == make_string("a"));
  CHECK(make_string("a") != make_string("b"));
  resp_value status_a;
  status_a.type = kind::status;
  status_a.str = "a";
  CHECK(status_a != make_string("a"));
  CHECK(make_array({make_integer(1)}) != make_array({make_integer(2)}));
  CHECK(make_array({}) != resp_value{});
}

TEST_CASE("kinds have readable names") {
  CHECK(std::string{to_string(kind::nil)} == "nil");
  CHECK(std::string{to_string(kind::status)} == "status");
  CHECK(std::string{to_string(kind::error)} == "error");
  CHECK(std::string{to_string(kind::integer)} == "integer");
  CHECK(std::string{to_string(kind::string)} == "string");
  CHECK(std::string{to_string(kind::array)} == "array");
  CHECK(std::string{to_string(static_cast<kind>(200))} == "<invalid>");
}

TEST_CASE("resp_value round-trips through CAF's binary serialization") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  resp_value error;
  error.type = kind::error;
  error.str = "ERR boom";
  resp_value ok;
  ok.type = kind::status;
  ok.str = "OK";
  auto x = make_array({make_string("bin\0\r\n\xff"s), make_integer(INT64_MIN),
                       resp_value{}, error, ok,
                       make_array({make_array({make_integer(3)})})});
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE(!sink(x));
  resp_value y;
  caf::binary_deserializer source{sys, buf};
  REQUIRE(!source(y));
  CHECK(y == x);
  CHECK(y.elements[3].type == kind::error);
  CHECK(y.elements[4].is_ok());
}

TEST_CASE("CAF prints resp_value with its type name and kind names") {
  auto printed = caf::deep_to_string(make_array({make_integer(5)}));
  CHECK(printed.find("cafcache.resp_value") != std::string::npos);
  CHECK(printed.find("array") != std::string::npos);
  CHECK(printed.find("integer") != std::string::npos);
}

} // TEST_SUITE

TEST_CASE("a pushed pub/sub message and a READONLY refusal are told apart") {
  resp_value message;
  message.type = resp_value::kind::array;
  for (auto part : {"message", "channel", "payload"}) {
    resp_value x;
    x.type = resp_value::kind::string;
    x.str = part;
    message.elements.push_back(x);
  }
  CHECK(is_pubsub_message(message));
  message.elements[0].str = "subscribe";
  CHECK_FALSE(is_pubsub_message(message));
  resp_value refusal;
  refusal.type = resp_value::kind::error;
  refusal.str = "READONLY You can't write against a read only replica.";
  CHECK(is_readonly(refusal));
  refusal.str = "ERR unknown command";
  CHECK_FALSE(is_readonly(refusal));
}
