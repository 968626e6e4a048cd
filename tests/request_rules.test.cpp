// The rules a request's key, tags and value follow (runtime/request_rules).

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "messages/errc.hpp"
#include "runtime/codec.hpp"
#include "runtime/request_rules.hpp"

using namespace cafcache;

TEST_CASE("a key has 1 to max-key-bytes bytes and does not start with 0xFF") {
  CHECK_FALSE(check_key("k", 4));
  CHECK_FALSE(check_key("kkkk", 4));
  CHECK(is(check_key("", 4), errc::invalid_key));
  CHECK(is(check_key("kkkkk", 4), errc::key_too_large));
  CHECK(to_sentence(check_key("kkkkk", 4)).find("5 bytes, at most 4")
        != std::string::npos);
  CHECK(is(check_key(std::string{"\xFF" "k"}, 4), errc::invalid_key));
  CHECK_FALSE(check_key(std::string{"k\xFF"}, 4));
}

TEST_CASE("tags: at most max_tags, each 1 to max_tag_bytes bytes") {
  CHECK_FALSE(check_tag("t"));
  CHECK_FALSE(check_tag(std::string(max_tag_bytes, 't')));
  CHECK(is(check_tag(""), errc::invalid_tag));
  CHECK(is(check_tag(std::string(max_tag_bytes + 1, 't')), errc::invalid_tag));
  std::vector<std::string> tags(max_tags, "t");
  CHECK_FALSE(check_tags(tags));
  tags.push_back("t");
  CHECK(is(check_tags(tags), errc::invalid_tag));
  CHECK(is(check_tags({"a", ""}), errc::invalid_tag));
}

TEST_CASE("a value has at most max-value-bytes bytes of a valid body") {
  CHECK_FALSE(check_value(cache_value{codec_kind::raw, "abc"}, 3));
  CHECK(is(check_value(cache_value{codec_kind::raw, "abcd"}, 3),
           errc::value_too_large));
  CHECK_FALSE(check_value(cache_value{codec_kind::json, "{\"a\":1}"}, 64));
  CHECK(is(check_value(cache_value{codec_kind::json, "{\"a\":"}, 64),
           errc::decode_error));
}
