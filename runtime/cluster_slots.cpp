#include "runtime/cluster_slots.hpp"

#include <algorithm>
#include <array>
#include <string>

#include <fmt/format.h>

#include "messages/errc.hpp"

namespace cafcache {

namespace {

// -- CRC16 --------------------------------------------------------------------

constexpr std::array<uint16_t, 256> make_crc16_table() {
  std::array<uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    auto crc = static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    table[byte] = crc;
  }
  return table;
}

constexpr auto crc16_table = make_crc16_table();

constexpr uint16_t crc16_of(std::string_view data, uint16_t crc = 0) {
  for (char c : data) {
    auto index = ((crc >> 8) ^ static_cast<unsigned char>(c)) & 0xFF;
    crc = static_cast<uint16_t>((crc << 8) ^ crc16_table[index]);
  }
  return crc;
}

// The check value of CRC16-XMODEM, so that a broken table cannot compile.
static_assert(crc16_of("123456789") == 0x31C3);

// -- text ---------------------------------------------------------------------

// A decimal number of at most five digits that is not above `max`.
std::optional<uint32_t> parse_number(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 5)
    return std::nullopt;
  uint32_t out = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    out = out * 10 + static_cast<uint32_t>(c - '0');
  }
  if (out > max)
    return std::nullopt;
  return out;
}

bool same(const host_port& x, const host_port& y) {
  return x.port == y.port && x.host == y.host;
}

bool contains(const std::vector<host_port>& xs, const host_port& x) {
  return std::any_of(xs.begin(), xs.end(),
                     [&](const host_port& y) { return same(x, y); });
}

// -- CLUSTER SLOTS ------------------------------------------------------------

// What one node of a CLUSTER SLOTS entry names.
enum class named_node {
  // An address, stored in the output argument.
  address,
  // The unknown endpoint "?": the node has no address others can use.
  unknown,
  // Not [ip, port, ...] with a port from 1 to 65535.
  malformed,
};

named_node read_node(const resp_value& x, const host_port& asked,
                     host_port& out) {
  if (x.type != resp_value::kind::array || x.elements.size() < 2)
    return named_node::malformed;
  auto& ip = x.elements[0];
  auto& port = x.elements[1];
  if ((ip.type != resp_value::kind::string && !ip.is_nil())
      || port.type != resp_value::kind::integer || port.integer < 1
      || port.integer > 65535)
    return named_node::malformed;
  if (ip.str == "?")
    return named_node::unknown;
  out.host = ip.str.empty() ? asked.host : ip.str;
  out.port = static_cast<uint16_t>(port.integer);
  return named_node::address;
}

} // namespace

uint16_t crc16(std::string_view data) {
  return crc16_of(data);
}

uint16_t key_slot(std::string_view key) {
  return key_slot(std::string_view{}, key);
}

uint16_t key_slot(std::string_view prefix, std::string_view key) {
  // Positions count in prefix + key, which is never built.
  constexpr auto npos = std::string_view::npos;
  auto find = [&](char c, size_t from) {
    if (from < prefix.size())
      if (auto at = prefix.find(c, from); at != npos)
        return at;
    auto rest = from > prefix.size() ? from - prefix.size() : 0;
    auto at = key.find(c, rest);
    return at == npos ? npos : at + prefix.size();
  };
  size_t first = 0;
  size_t last = prefix.size() + key.size();
  if (auto open = find('{', 0); open != npos)
    if (auto close = find('}', open + 1); close != npos && close > open + 1) {
      first = open + 1;
      last = close;
    }
  uint16_t crc = 0;
  if (first < prefix.size())
    crc = crc16_of(prefix.substr(first, std::min(last, prefix.size()) - first),
                   crc);
  if (last > prefix.size()) {
    auto from = first > prefix.size() ? first - prefix.size() : 0;
    crc = crc16_of(key.substr(from, last - prefix.size() - from), crc);
  }
  return static_cast<uint16_t>(crc % cluster_slot_count);
}

namespace {

// The hash tags of all slots, found once: every text of one to three
// letters and digits in order, the first to land in a slot is its tag.
// Three characters (62^3 texts) reach each of the 16384 slots; the unit
// test checks all of them.
const std::vector<std::string>& slot_hash_tags() {
  static const auto tags = [] {
    constexpr std::string_view alphabet
      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::vector<std::string> out(cluster_slot_count);
    size_t found = 0;
    std::string text;
    auto visit = [&](auto& self, size_t length) -> void {
      if (text.size() == length) {
        auto& tag = out[key_slot(text)];
        if (tag.empty()) {
          tag = text;
          ++found;
        }
        return;
      }
      for (char c : alphabet) {
        text.push_back(c);
        self(self, length);
        text.pop_back();
        if (found == cluster_slot_count)
          return;
      }
    };
    for (size_t length = 1; length <= 3 && found < cluster_slot_count;
         ++length)
      visit(visit, length);
    return out;
  }();
  return tags;
}

} // namespace

std::string_view slot_hash_tag(uint16_t slot) {
  return slot_hash_tags()[slot % cluster_slot_count];
}

bool hash_tag_closed(std::string_view prefix) {
  auto open = prefix.find('{');
  if (open == std::string_view::npos)
    return true;
  auto close = prefix.find('}', open + 1);
  return close != std::string_view::npos && close > open + 1;
}

std::optional<cluster_redirect> parse_redirect(std::string_view error_reply,
                                               const host_port& asked) {
  cluster_redirect out;
  auto space = error_reply.find(' ');
  if (space == std::string_view::npos)
    return std::nullopt;
  auto word = error_reply.substr(0, space);
  if (word == "MOVED")
    out.what = cluster_redirect::kind::moved;
  else if (word == "ASK")
    out.what = cluster_redirect::kind::ask;
  else
    return std::nullopt;
  auto rest = error_reply.substr(space + 1);
  space = rest.find(' ');
  if (space == std::string_view::npos)
    return std::nullopt;
  auto slot = parse_number(rest.substr(0, space), cluster_slot_count - 1);
  auto endpoint = rest.substr(space + 1);
  auto colon = endpoint.rfind(':');
  if (!slot || colon == std::string_view::npos)
    return std::nullopt;
  auto port = parse_number(endpoint.substr(colon + 1), 65535);
  auto host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (!port || *port == 0 || host == "?"
      || host.find_first_of("[] ") != std::string_view::npos)
    return std::nullopt;
  out.slot = static_cast<uint16_t>(*slot);
  out.target.host = host.empty() ? asked.host : std::string{host};
  out.target.port = static_cast<uint16_t>(*port);
  return out;
}

// -- slot_map -----------------------------------------------------------------

slot_map::slot_map() : owners_(cluster_slot_count, -1) {
  // nop
}

caf::expected<slot_map>
slot_map::from_cluster_slots(const resp_value& reply, const host_port& asked) {
  auto who = address_of(asked);
  if (reply.is_error())
    return make_error(errc::redis_error,
                      fmt::format("{} answered CLUSTER SLOTS with an error: {}",
                                  who, reply.str));
  if (reply.type != resp_value::kind::array)
    return make_error(errc::redis_error,
                      fmt::format("{} answered CLUSTER SLOTS with a {} "
                                  "reply, not a list of slot ranges",
                                  who, to_string(reply.type)));
  slot_map out;
  // Also the slots of a primary at "?", which stay unassigned.
  std::vector<bool> claimed(cluster_slot_count, false);
  for (size_t i = 0; i < reply.elements.size(); ++i) {
    auto malformed = [&](std::string_view why) {
      return make_error(errc::redis_error,
                        fmt::format("{} answered CLUSTER SLOTS with a "
                                    "malformed entry {}: {}",
                                    who, i + 1, why));
    };
    auto& entry = reply.elements[i];
    if (entry.type != resp_value::kind::array || entry.elements.size() < 3)
      return malformed("it is not a list of first slot, last slot and "
                       "primary");
    auto& first = entry.elements[0];
    auto& last = entry.elements[1];
    if (first.type != resp_value::kind::integer
        || last.type != resp_value::kind::integer || first.integer < 0
        || last.integer >= cluster_slot_count || first.integer > last.integer)
      return malformed("its slot range is not two slots from 0 to 16383 in "
                       "order");
    host_port primary;
    auto primary_named = read_node(entry.elements[2], asked, primary);
    if (primary_named == named_node::malformed)
      return malformed("its primary is not an ip and a port from 1 to 65535");
    std::vector<host_port> replicas;
    for (size_t j = 3; j < entry.elements.size(); ++j) {
      host_port replica;
      auto named = read_node(entry.elements[j], asked, replica);
      if (named == named_node::malformed)
        return malformed("a replica is not an ip and a port from 1 to 65535");
      if (named == named_node::address && !contains(replicas, replica))
        replicas.push_back(std::move(replica));
    }
    for (auto slot = first.integer; slot <= last.integer; ++slot) {
      if (claimed[static_cast<size_t>(slot)])
        return malformed(fmt::format("slot {} is in an earlier entry too",
                                     slot));
      claimed[static_cast<size_t>(slot)] = true;
    }
    if (primary_named == named_node::unknown)
      continue;
    auto index = out.add_primary(primary);
    for (auto& replica : replicas)
      if (!contains(out.replicas_[index], replica))
        out.replicas_[index].push_back(std::move(replica));
    for (auto slot = first.integer; slot <= last.integer; ++slot)
      out.owners_[static_cast<size_t>(slot)] = static_cast<int32_t>(index);
    out.assigned_ += static_cast<size_t>(last.integer - first.integer + 1);
  }
  return out;
}

const std::vector<host_port>& slot_map::replicas(size_t primary) const {
  static const std::vector<host_port> none;
  return primary < replicas_.size() ? replicas_[primary] : none;
}

std::vector<host_port> slot_map::nodes() const {
  auto out = primaries_;
  for (auto& replicas : replicas_)
    for (auto& replica : replicas)
      if (!contains(out, replica))
        out.push_back(replica);
  return out;
}

std::optional<size_t> slot_map::owner(uint16_t slot) const {
  if (slot >= cluster_slot_count || owners_[slot] < 0)
    return std::nullopt;
  return static_cast<size_t>(owners_[slot]);
}

std::optional<size_t> slot_map::index_of(const host_port& primary) const {
  for (size_t i = 0; i < primaries_.size(); ++i)
    if (same(primaries_[i], primary))
      return i;
  return std::nullopt;
}

void slot_map::assign(uint16_t slot, const host_port& primary) {
  if (slot >= cluster_slot_count)
    return;
  auto index = add_primary(primary);
  if (owners_[slot] < 0)
    ++assigned_;
  owners_[slot] = static_cast<int32_t>(index);
}

size_t slot_map::add_primary(const host_port& primary) {
  if (auto index = index_of(primary))
    return *index;
  primaries_.push_back(primary);
  replicas_.emplace_back();
  return primaries_.size() - 1;
}

bool operator==(const slot_map& x, const slot_map& y) {
  if (x.assigned_ != y.assigned_)
    return false;
  std::vector<std::optional<size_t>> in_y;
  in_y.reserve(x.primaries_.size());
  for (auto& primary : x.primaries_)
    in_y.push_back(y.index_of(primary));
  std::vector<bool> serves(x.primaries_.size(), false);
  for (size_t slot = 0; slot < cluster_slot_count; ++slot) {
    auto xo = x.owners_[slot];
    auto yo = y.owners_[slot];
    if (xo < 0 || yo < 0) {
      if (xo != yo)
        return false;
      continue;
    }
    auto& match = in_y[static_cast<size_t>(xo)];
    if (!match || *match != static_cast<size_t>(yo))
      return false;
    serves[static_cast<size_t>(xo)] = true;
  }
  for (size_t i = 0; i < x.primaries_.size(); ++i) {
    if (!serves[i])
      continue;
    auto& mine = x.replicas_[i];
    auto& theirs = y.replicas_[*in_y[i]];
    if (mine.size() != theirs.size()
        || !std::all_of(mine.begin(), mine.end(), [&](const host_port& r) {
             return contains(theirs, r);
           }))
      return false;
  }
  return true;
}

} // namespace cafcache
