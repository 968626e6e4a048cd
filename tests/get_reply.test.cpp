// What a GET reply means (runtime/get_reply) and how a GET is encoded
// (runtime/resp append_get): the rules every connection that answers gets
// shares with the cache's own lookups.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/get_reply.hpp"
#include "runtime/resp.hpp"

using namespace cafcache;

namespace {

resp_value reply_of(resp_value::kind type, std::string str = {}) {
  resp_value out;
  out.type = type;
  out.str = std::move(str);
  return out;
}

} // namespace

TEST_CASE("a GET reply with an envelope is a hit from Redis, not stale") {
  auto stored = encode_envelope(cache_value{codec_kind::raw, "v1"});
  auto r = read_get_reply(reply_of(resp_value::kind::string, stored));
  CHECK_FALSE(r.failed);
  CHECK(r.kind == served_kind::hit);
  CHECK(r.answer.found);
  CHECK(r.answer.value.data == "v1");
  CHECK(r.answer.value.codec == codec_kind::raw);
  CHECK(r.answer.source == tier::redis);
  CHECK_FALSE(r.answer.stale);
}

TEST_CASE("the negative marker, nil, foreign bytes and WRONGTYPE are misses") {
  struct row {
    resp_value reply;
    served_kind kind;
  };
  std::vector<row> rows{
    {reply_of(resp_value::kind::string, negative_envelope()),
     served_kind::negative},
    {reply_of(resp_value::kind::nil), served_kind::nil},
    {reply_of(resp_value::kind::string, "plain text of another client"),
     served_kind::undecodable},
    {reply_of(resp_value::kind::error,
              "WRONGTYPE Operation against a key holding the wrong kind"),
     served_kind::undecodable},
  };
  for (auto& x : rows) {
    auto r = read_get_reply(x.reply);
    CHECK_FALSE(r.failed);
    CHECK(r.kind == x.kind);
    CHECK_FALSE(r.answer.found);
    CHECK(r.answer.source == tier::redis);
  }
}

TEST_CASE("any other error, and replies a GET cannot have, mean Redis failed") {
  for (auto& reply :
       {reply_of(resp_value::kind::error, "LOADING Redis is loading"),
        reply_of(resp_value::kind::error, "ERR unknown command"),
        reply_of(resp_value::kind::status, "OK"),
        reply_of(resp_value::kind::integer),
        reply_of(resp_value::kind::array)})
    CHECK(read_get_reply(reply).failed);
}

TEST_CASE("append_get writes the bytes append_command writes for GET") {
  for (std::string key : {std::string{"k"}, std::string(300, 'x'),
                          std::string{"a\r\nb\0c", 6}}) {
    std::string expected;
    append_command(expected, {"GET", "pre:" + key});
    std::vector<char> buf{'*'};
    append_get(buf, "pre:", key);
    CHECK(std::string(buf.begin() + 1, buf.end()) == expected);
  }
}

TEST_CASE("append_set and append_unlink write the bytes of their argv") {
  for (std::string key : {std::string{"k"}, std::string(300, 'x'),
                          std::string{"a\r\nb\0c", 6}}) {
    std::string stored{"\xca\x03v\0\r\n", 6};
    for (int64_t ms : {int64_t{1}, int64_t{3600000}}) {
      std::string expected;
      append_command(expected,
                     {"SET", "pre:" + key, stored, "PX", std::to_string(ms)});
      std::vector<char> buf;
      append_set(buf, "pre:", key, stored, ms);
      CHECK(std::string(buf.begin(), buf.end()) == expected);
    }
    std::string expected;
    append_command(expected, {"UNLINK", "pre:" + key});
    std::vector<char> buf;
    append_unlink(buf, "pre:", key);
    CHECK(std::string(buf.begin(), buf.end()) == expected);
    expected.clear();
    append_command(expected, {"PUBLISH", "chan", key});
    buf.clear();
    append_publish(buf, "chan", key);
    CHECK(std::string(buf.begin(), buf.end()) == expected);
  }
}
