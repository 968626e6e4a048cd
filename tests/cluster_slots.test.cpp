// The pure half of Redis Cluster support (runtime/cluster_slots): the key's
// hash slot, MOVED and ASK replies, and the slot map of a CLUSTER SLOTS
// reply. tests/cluster_topology.test.cpp checks the same against a real
// cluster.

#include "runtime/cluster_slots.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "messages/errc.hpp"
#include "runtime/commands.hpp"

using namespace cafcache;

namespace {

resp_value integer(int64_t x) {
  resp_value out;
  out.type = resp_value::kind::integer;
  out.integer = x;
  return out;
}

resp_value bulk(std::string x) {
  resp_value out;
  out.type = resp_value::kind::string;
  out.str = std::move(x);
  return out;
}

resp_value array(std::vector<resp_value> xs) {
  resp_value out;
  out.type = resp_value::kind::array;
  out.elements = std::move(xs);
  return out;
}

// One node of an entry as Redis 7.0 sends it: ip, port, id, metadata.
resp_value node(std::string ip, int64_t port) {
  return array({bulk(std::move(ip)), integer(port), bulk("e7d1eecce10fd6bb5eb"),
                array({})});
}

resp_value entry(int64_t first, int64_t last, std::vector<resp_value> nodes) {
  std::vector<resp_value> xs{integer(first), integer(last)};
  for (auto& x : nodes)
    xs.push_back(std::move(x));
  return array(std::move(xs));
}

// Three shards of one replica each, as `redis-cli --cluster create` splits.
resp_value three_shards() {
  return array({entry(0, 5460,
                      {node("10.0.0.1", 7000), node("10.0.0.4", 7003)}),
                entry(5461, 10922,
                      {node("10.0.0.2", 7001), node("10.0.0.5", 7004)}),
                entry(10923, 16383,
                      {node("10.0.0.3", 7002), node("10.0.0.6", 7005)})});
}

const host_port asked{"10.0.0.9", 7009};

slot_map parse_ok(const resp_value& reply) {
  auto x = slot_map::from_cluster_slots(reply, asked);
  REQUIRE_MESSAGE(x, to_sentence(x.error()));
  return std::move(*x);
}

void check_rejected(const resp_value& reply) {
  auto x = slot_map::from_cluster_slots(reply, asked);
  REQUIRE_FALSE(x);
  CHECK(is(x.error(), errc::redis_error));
  CHECK(detail_of(x.error()).find("10.0.0.9:7009") != std::string::npos);
}

bool same(const host_port& x, const host_port& y) {
  return x.host == y.host && x.port == y.port;
}

} // namespace

TEST_SUITE("cluster_slots") {

TEST_CASE("crc16 is CRC16-XMODEM") {
  CHECK(crc16("123456789") == 0x31C3);
  CHECK(crc16("") == 0);
  CHECK(crc16(std::string_view{"\0", 1}) == 0);
  CHECK(crc16("A") == 0x58E5);
}

TEST_CASE("key_slot matches the Cluster spec's examples") {
  CHECK(key_slot("somekey") == 11058);
  CHECK(key_slot("foo{hash_tag}") == 2515);
  CHECK(key_slot("123456789") == 0x31C3);
  CHECK(key_slot("") == 0);
  CHECK(key_slot("{user1000}.following") == key_slot("user1000"));
  CHECK(key_slot("{user1000}.followers") == key_slot("{user1000}.following"));
}

TEST_CASE("only the first non-empty hash tag is hashed") {
  // The four edge cases of the spec.
  CHECK(key_slot("foo{}{bar}") == crc16("foo{}{bar}") % 16384);
  CHECK(key_slot("foo{{bar}}zap") == key_slot("{bar"));
  CHECK(key_slot("foo{{bar}}zap") == crc16("{bar") % 16384);
  CHECK(key_slot("foo{bar}{zap}") == key_slot("bar"));
  CHECK(key_slot("foo{bar}{zap}") != key_slot("zap"));
  // A key that starts with {} is always hashed whole.
  CHECK(key_slot("{}") == crc16("{}") % 16384);
  CHECK(key_slot("{}bar") == crc16("{}bar") % 16384);
  CHECK(key_slot("{}{bar}") == crc16("{}{bar}") % 16384);
  // An unclosed tag, or a '}' before the first '{', hashes the whole key.
  CHECK(key_slot("foo{bar") == crc16("foo{bar") % 16384);
  CHECK(key_slot("foo}bar{") == crc16("foo}bar{") % 16384);
  CHECK(key_slot("}x{y}") == key_slot("y"));
  CHECK(key_slot("cafcache:{tenant-7}:user:1")
        == key_slot("cafcache:{tenant-7}:user:2"));
}

TEST_CASE("the slot of prefix and key is the slot of their concatenation") {
  // Braces in the prefix, in the key, across both, and none.
  const char* prefixes[] = {"", "cafcache:", "a{", "{", "{}", "x{ab", "t}",
                            "{x}:"};
  const char* keys[] = {"", "k", "}", "b}c", "{user1}:cart", "{}{z}", "q}{r}",
                        "plain"};
  for (auto prefix : prefixes)
    for (auto key : keys)
      CHECK_MESSAGE(key_slot(prefix, key)
                      == key_slot(std::string{prefix} + key),
                    "prefix '" << prefix << "', key '" << key << "'");
}

TEST_CASE("every slot has a hash tag of at most three letters and digits") {
  for (uint32_t slot = 0; slot < cluster_slot_count; ++slot) {
    auto tag = std::string{slot_hash_tag(static_cast<uint16_t>(slot))};
    REQUIRE_MESSAGE(!tag.empty(), "slot " << slot << " has no hash tag");
    REQUIRE(tag.size() <= 3);
    REQUIRE(tag.find_first_of("{}") == std::string::npos);
    REQUIRE_MESSAGE(key_slot("x{" + tag + "}y") == slot, "slot " << slot);
  }
  // The shortest, the first in the order of the alphabet.
  CHECK(slot_hash_tag(key_slot("0")) == "0");
  CHECK(slot_hash_tag(key_slot("z")) == "z");
  CHECK(slot_hash_tag(key_slot("cafcache:user:7")) == "fs");
}

TEST_CASE("a prefix places its keys' tag sets only when its braces close") {
  CHECK(hash_tag_closed("cafcache:"));
  CHECK(hash_tag_closed(""));
  CHECK(hash_tag_closed("{app}:"));
  CHECK(hash_tag_closed("a}b:"));
  CHECK_FALSE(hash_tag_closed("app{7:"));
  CHECK_FALSE(hash_tag_closed("a{}b:"));
  CHECK_FALSE(hash_tag_closed("a{"));
  // A tag set lands in the slot of its value, whatever braces the key and
  // the tag carry, under every prefix hash_tag_closed accepts.
  for (std::string prefix : {"cafcache:", "{app}:", "a}b:"})
    for (std::string key : {"user:7", "{u1}:cart", "x{}y", "}{", "{{a}}"})
      for (std::string tag : {"eu", "{t}", "}", "a{b"}) {
        auto slot = key_slot(prefix, key);
        auto set = commands::tag_set_key(prefix, tag, slot);
        CHECK_MESSAGE(key_slot(set) == slot, prefix << key << " " << tag);
        CHECK(commands::is_slot_tag_set(prefix, tag, set));
        CHECK_FALSE(commands::is_slot_tag_set(prefix, tag + "x", set));
        CHECK_FALSE(commands::is_slot_tag_set(prefix, "x" + tag, set));
      }
  // A tag with a '}' is no other tag's set: "b" does not own "{H}a}b".
  auto set = commands::tag_set_key("p:", "a}b", 7);
  CHECK(commands::is_slot_tag_set("p:", "a}b", set));
  CHECK_FALSE(commands::is_slot_tag_set("p:", "b", set));
  CHECK_FALSE(commands::is_slot_tag_set("p:", "eu", "p:\xFFeu"));
  CHECK_FALSE(commands::is_slot_tag_set("p:", "eu", "p:\xFF{}eu"));
  CHECK(commands::slot_tag_sets_pattern("a*:", "t?") == "a\\*:\xFF{*}t\\?");
}

TEST_CASE("MOVED and ASK replies name the slot and the node") {
  auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", asked);
  REQUIRE(moved);
  CHECK(moved->what == cluster_redirect::kind::moved);
  CHECK(moved->slot == 3999);
  CHECK(moved->target.host == "127.0.0.1");
  CHECK(moved->target.port == 6381);
  auto ask = parse_redirect("ASK 16383 redis-3.example:65535", asked);
  REQUIRE(ask);
  CHECK(ask->what == cluster_redirect::kind::ask);
  CHECK(ask->slot == 16383);
  CHECK(ask->target.host == "redis-3.example");
  CHECK(ask->target.port == 65535);
  auto first = parse_redirect("MOVED 0 h:1", asked);
  REQUIRE(first);
  CHECK(first->slot == 0);
}

TEST_CASE("an empty host in a redirect is the host asked") {
  auto x = parse_redirect("MOVED 3999 :6381", asked);
  REQUIRE(x);
  CHECK(x->target.host == "10.0.0.9");
  CHECK(x->target.port == 6381);
}

TEST_CASE("IPv6 redirects split at the last colon") {
  auto bracketed = parse_redirect("MOVED 12 [::1]:6381", asked);
  REQUIRE(bracketed);
  CHECK(bracketed->target.host == "::1");
  CHECK(bracketed->target.port == 6381);
  auto bare = parse_redirect("ASK 12 fe80::1:2:6382", asked);
  REQUIRE(bare);
  CHECK(bare->target.host == "fe80::1:2");
  CHECK(bare->target.port == 6382);
}

TEST_CASE("anything but a well-formed redirect is no redirect") {
  for (auto text : {"", "MOVED", "MOVED ", "MOVED 3999", "MOVED 3999 ",
                    "MOVED x 127.0.0.1:6381", "MOVED -1 h:1",
                    "MOVED 16384 h:1", "MOVED 99999 h:1", "MOVED 123456 h:1",
                    "MOVED 1 h:0", "MOVED 1 h:65536", "MOVED 1 h:100000",
                    "MOVED 1 h", "MOVED 1 h:", "MOVED 1 h:x",
                    "MOVED 1 h:1 extra", "MOVED 1 a b:1", "MOVED  1 h:1",
                    "moved 1 h:1", "MOVEDX 1 h:1", "ASKING 1 h:1",
                    "MOVED 1 ?:6379", "MOVED 1 [::1:6379", "MOVED 1 ]:6379",
                    "ERR unknown command 'FOO'",
                    "CLUSTERDOWN The cluster is down",
                    "TRYAGAIN Multiple keys request during rehashing"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_redirect(text, asked));
  }
}

TEST_CASE("a full CLUSTER SLOTS reply covers every slot") {
  auto map = parse_ok(three_shards());
  CHECK(map.covers_all());
  CHECK(map.assigned() == 16384);
  REQUIRE(map.primaries().size() == 3);
  CHECK(same(map.primaries()[0], {"10.0.0.1", 7000}));
  CHECK(same(map.primaries()[2], {"10.0.0.3", 7002}));
  CHECK(map.owner(0) == 0u);
  CHECK(map.owner(5460) == 0u);
  CHECK(map.owner(5461) == 1u);
  CHECK(map.owner(10922) == 1u);
  CHECK(map.owner(10923) == 2u);
  CHECK(map.owner(16383) == 2u);
  CHECK_FALSE(map.owner(16384));
  CHECK(map.index_of({"10.0.0.2", 7001}) == 1u);
  CHECK_FALSE(map.index_of({"10.0.0.2", 7000}));
  CHECK_FALSE(map.index_of({"10.0.0.4", 7003}));
  REQUIRE(map.replicas(1).size() == 1);
  CHECK(same(map.replicas(1)[0], {"10.0.0.5", 7004}));
  CHECK(map.replicas(3).empty());
  auto nodes = map.nodes();
  REQUIRE(nodes.size() == 6);
  CHECK(same(nodes[0], {"10.0.0.1", 7000}));
  CHECK(same(nodes[2], {"10.0.0.3", 7002}));
  CHECK(same(nodes[3], {"10.0.0.4", 7003}));
  CHECK(same(nodes[5], {"10.0.0.6", 7005}));
}

TEST_CASE("a partial reply leaves the other slots unassigned") {
  auto map = parse_ok(array({entry(0, 99, {node("10.0.0.1", 7000)}),
                             entry(200, 200, {node("10.0.0.2", 7001)})}));
  CHECK_FALSE(map.covers_all());
  CHECK(map.assigned() == 101);
  CHECK(map.owner(99) == 0u);
  CHECK_FALSE(map.owner(100));
  CHECK(map.owner(200) == 1u);
  CHECK_FALSE(map.owner(201));
  auto none = parse_ok(array({}));
  CHECK(none.assigned() == 0);
  CHECK(none.primaries().empty());
  CHECK(none == slot_map{});
}

TEST_CASE("a primary with several ranges is one primary") {
  auto map = parse_ok(array({entry(0, 10, {node("10.0.0.1", 7000)}),
                             entry(11, 20, {node("10.0.0.2", 7001)}),
                             entry(21, 16383, {node("10.0.0.1", 7000),
                                               node("10.0.0.4", 7003)})}));
  CHECK(map.covers_all());
  REQUIRE(map.primaries().size() == 2);
  CHECK(map.owner(0) == 0u);
  CHECK(map.owner(16383) == 0u);
  CHECK(map.replicas(0).size() == 1);
}

TEST_CASE("an empty or NULL ip is the host asked") {
  auto nil_ip = array({resp_value{}, integer(7001)});
  auto map = parse_ok(array({entry(0, 8191, {node("", 7000)}),
                             entry(8192, 16383, {nil_ip, node("", 7004)})}));
  REQUIRE(map.primaries().size() == 2);
  CHECK(same(map.primaries()[0], {"10.0.0.9", 7000}));
  CHECK(same(map.primaries()[1], {"10.0.0.9", 7001}));
  CHECK(same(map.replicas(1).at(0), {"10.0.0.9", 7004}));
}

TEST_CASE("fields the parser does not know are ignored") {
  // Older servers send [ip, port] only; later ones may add fields to a
  // node, and nodes to an entry.
  auto short_node = array({bulk("10.0.0.1"), integer(7000)});
  auto long_node = array({bulk("10.0.0.2"), integer(7001), bulk("id"),
                          array({bulk("hostname"), bulk("b.example")}),
                          integer(42), bulk("more")});
  auto map = parse_ok(array({entry(0, 8191, {short_node}),
                             entry(8192, 16383, {long_node})}));
  CHECK(map.covers_all());
  CHECK(same(map.primaries()[1], {"10.0.0.2", 7001}));
}

TEST_CASE("the unknown endpoint '?' is nobody to ask") {
  auto map = parse_ok(array({entry(0, 8191, {node("10.0.0.1", 7000),
                                             node("?", 7003)}),
                             entry(8192, 16383, {node("?", 7001)})}));
  CHECK(map.assigned() == 8192);
  CHECK(map.primaries().size() == 1);
  CHECK(map.replicas(0).empty());
  CHECK_FALSE(map.owner(8192));
  // Its slots are still claimed.
  check_rejected(array({entry(0, 10, {node("?", 7001)}),
                        entry(10, 20, {node("10.0.0.1", 7000)})}));
}

TEST_CASE("malformed replies are errors, not crashes") {
  resp_value error;
  error.type = resp_value::kind::error;
  error.str = "ERR This instance has cluster support disabled";
  auto x = slot_map::from_cluster_slots(error, asked);
  REQUIRE_FALSE(x);
  CHECK(is(x.error(), errc::redis_error));
  CHECK(detail_of(x.error()).find("cluster support disabled")
        != std::string::npos);
  resp_value ok;
  ok.type = resp_value::kind::status;
  ok.str = "OK";
  check_rejected(ok);
  check_rejected(resp_value{});
  check_rejected(integer(3));
  auto good = node("10.0.0.1", 7000);
  check_rejected(array({integer(0)}));
  check_rejected(array({array({})}));
  check_rejected(array({array({integer(0), integer(10)})}));
  check_rejected(array({entry(10, 9, {good})}));
  check_rejected(array({entry(-1, 9, {good})}));
  check_rejected(array({entry(0, 16384, {good})}));
  check_rejected(array({array({bulk("0"), integer(10), good})}));
  check_rejected(array({array({integer(0), resp_value{}, good})}));
  check_rejected(array({entry(0, 10, {array({bulk("10.0.0.1")})})}));
  check_rejected(array({entry(0, 10, {bulk("10.0.0.1:7000")})}));
  check_rejected(array({entry(0, 10, {node("10.0.0.1", 0)})}));
  check_rejected(array({entry(0, 10, {node("10.0.0.1", 65536)})}));
  check_rejected(array({entry(0, 10, {node("10.0.0.1", -7000)})}));
  check_rejected(
    array({entry(0, 10, {array({bulk("10.0.0.1"), bulk("7000")})})}));
  check_rejected(array({entry(0, 10, {array({integer(1), integer(7000)})})}));
  check_rejected(array({entry(0, 10, {good, integer(7)})}));
  check_rejected(array({entry(0, 10, {good, array({})})}));
  check_rejected(array({entry(0, 10, {good}), entry(10, 20, {good})}));
  check_rejected(array({entry(0, 16383, {good}), entry(5, 5, {good})}));
}

TEST_CASE("assign() records what a MOVED says") {
  auto map = parse_ok(three_shards());
  map.assign(100, {"10.0.0.2", 7001});
  CHECK(map.owner(100) == 1u);
  CHECK(map.owner(99) == 0u);
  CHECK(map.assigned() == 16384);
  CHECK(map.primaries().size() == 3);
  map.assign(101, {"10.0.0.7", 7007});
  REQUIRE(map.primaries().size() == 4);
  CHECK(map.owner(101) == 3u);
  CHECK(map.index_of({"10.0.0.7", 7007}) == 3u);
  CHECK(map.replicas(3).empty());
  map.assign(16384, {"10.0.0.8", 7008});
  CHECK(map.primaries().size() == 4);
  slot_map empty;
  empty.assign(5, {"10.0.0.1", 7000});
  CHECK(empty.assigned() == 1);
  empty.assign(5, {"10.0.0.2", 7001});
  CHECK(empty.assigned() == 1);
  CHECK(empty.owner(5) == 1u);
}

TEST_CASE("maps are equal when every slot has the same primary") {
  auto x = parse_ok(three_shards());
  CHECK(x == parse_ok(three_shards()));
  auto reversed = three_shards();
  std::swap(reversed.elements[0], reversed.elements[2]);
  auto y = parse_ok(reversed);
  CHECK(y.primaries()[0].port == 7002);
  CHECK(x == y);
  y.assign(0, {"10.0.0.2", 7001});
  CHECK(x != y);
  y.assign(0, {"10.0.0.1", 7000});
  CHECK(x == y);
  auto other_replica = three_shards();
  other_replica.elements[1].elements[3] = node("10.0.0.8", 7008);
  CHECK(x != parse_ok(other_replica));
  auto partial = three_shards();
  partial.elements.pop_back();
  CHECK(x != parse_ok(partial));
  CHECK(parse_ok(partial) != slot_map{});
}

} // TEST_SUITE
