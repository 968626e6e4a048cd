#include <doctest/doctest.h>

#include "runtime/coherence.hpp"

using namespace cafcache;
using namespace std::string_literals;

TEST_CASE("coherence messages round-trip and reject garbage") {
  auto payload = coherence::encode(0x0102030405060708, coherence::scope::key,
                                   "user:\0\xFF"s);
  CHECK(payload == "\x01\x02\x03\x04\x05\x06\x07\x08k" "user:\0\xFF"s);
  auto msg = coherence::decode(payload);
  REQUIRE(msg.has_value());
  CHECK(msg->node == 0x0102030405060708);
  CHECK(msg->scope == coherence::scope::key);
  CHECK(msg->names == std::vector<std::string>{"user:\0\xFF"s});
  auto all = coherence::decode(coherence::encode(7, coherence::scope::all, ""));
  REQUIRE(all.has_value());
  CHECK(all->scope == coherence::scope::all);
  auto tag = coherence::decode(coherence::encode(7, coherence::scope::tag,
                                                 "t"));
  REQUIRE(tag.has_value());
  CHECK(tag->scope == coherence::scope::tag);
  CHECK(tag->names == std::vector<std::string>{"t"});
  CHECK_FALSE(coherence::decode("").has_value());
  CHECK_FALSE(coherence::decode("12345678").has_value());
  CHECK_FALSE(coherence::decode("12345678x" "key").has_value());
  CHECK_FALSE(coherence::decode("12345678k").has_value()); // no key
  CHECK(coherence::channel("app:") == "app:\xFFinvalidations"s);
}

TEST_CASE("several keys written together travel in one message") {
  std::vector<std::string> keys{"a", "user:\0\xFF"s, std::string(300, 'x')};
  auto payload = coherence::encode_keys(0x0102030405060708, keys);
  CHECK(payload.substr(0, 13) == "\x01\x02\x03\x04\x05\x06\x07\x08K\0\0\0\x01"s);
  auto msg = coherence::decode(payload);
  REQUIRE(msg.has_value());
  CHECK(msg->node == 0x0102030405060708);
  CHECK(msg->scope == coherence::scope::key);
  CHECK(msg->names == keys);
  CHECK(coherence::sent_by(payload, 0x0102030405060708));
  // One key takes the one-key form that every node reads.
  CHECK(coherence::encode_keys(7, {"k"})
        == coherence::encode(7, coherence::scope::key, "k"));
  // An entry that is empty or runs past the end spoils the whole message.
  auto head = "12345678K"s;
  CHECK_FALSE(coherence::decode(head).has_value());
  CHECK_FALSE(coherence::decode(head + "\0\0\0"s).has_value());
  CHECK_FALSE(coherence::decode(head + "\0\0\0\0"s).has_value());
  CHECK_FALSE(coherence::decode(head + "\0\0\0\x02" "a").has_value());
  CHECK_FALSE(
    coherence::decode(head + "\0\0\0\x01" "a" "\0\0"s).has_value());
  auto two = coherence::decode(head + "\0\0\0\x01" "a\0\0\0\x01" "b"s);
  REQUIRE(two.has_value());
  CHECK(two->names == std::vector<std::string>{"a", "b"});
}

TEST_CASE("sent_by tells a node's own messages from the others'") {
  auto mine = coherence::encode(0xA1B2C3D4E5F60718, coherence::scope::key,
                                "k");
  CHECK(coherence::sent_by(mine, 0xA1B2C3D4E5F60718));
  CHECK_FALSE(coherence::sent_by(mine, 0xA1B2C3D4E5F60719));
  CHECK_FALSE(coherence::sent_by(mine, 0x18A1B2C3D4E5F607));
  CHECK_FALSE(coherence::sent_by("", 1));
  CHECK_FALSE(coherence::sent_by("\0\0\0\0\0\0\0\x01"s, 1)); // no scope
}

TEST_CASE("mirror_guard: only invalidations after the ticket block a copy") {
  coherence::mirror_guard guard;
  auto early = guard.ticket();
  guard.invalidated("a");
  auto late = guard.ticket();
  CHECK_FALSE(guard.may_mirror("a", early));
  CHECK(guard.may_mirror("a", late));
  // Other keys are unaffected unless they share the bucket; none of b0..b9
  // shares one with "a" (the guard's hash is fixed).
  int unaffected = 0;
  for (int i = 0; i < 10; ++i)
    unaffected += guard.may_mirror("b" + std::to_string(i), early) ? 1 : 0;
  CHECK(unaffected == 10);
  guard.invalidated_all();
  CHECK_FALSE(guard.may_mirror("zzz", late));
  CHECK(guard.may_mirror("zzz", guard.ticket()));
}
