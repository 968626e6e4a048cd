#include "runtime/redis_url.hpp"

#include <charconv>
#include <limits>
#include <utility>

namespace cafcache {

namespace {

// The helpers below stick to ASCII on purpose: the <cctype> functions depend
// on the global locale and could accept bytes above 0x7F.

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_host_char(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_char(char c) {
  return is_hex_digit(c) || c == ':' || c == '.';
}

bool is_scheme_char(char c) {
  return is_alnum(c) || c == '+' || c == '-' || c == '.';
}

bool is_unreserved(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

int hex_value(char c) {
  if (is_digit(c))
    return c - '0';
  return to_lower(c) - 'a' + 10;
}

bool iequals(std::string_view x, std::string_view y) {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (to_lower(x[i]) != to_lower(y[i]))
      return false;
  return true;
}

// Returns the length of the leading run of ASCII digits.
size_t digit_prefix(std::string_view str) {
  size_t n = 0;
  while (n < str.size() && is_digit(str[n]))
    ++n;
  return n;
}

// Parses a run of digits; std::nullopt when the value exceeds max.
std::optional<uint64_t> parse_number(std::string_view digits, uint64_t max) {
  uint64_t result = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(),
                                   result);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || result > max)
    return std::nullopt;
  return result;
}

// Percent-decodes str into out; returns the offending escape on failure.
std::optional<std::string> percent_decode(std::string_view str,
                                          std::string& out) {
  out.clear();
  for (size_t i = 0; i < str.size(); ++i) {
    if (str[i] != '%') {
      out += str[i];
      continue;
    }
    if (i + 2 >= str.size())
      return std::string{str.substr(i)};
    if (!is_hex_digit(str[i + 1]) || !is_hex_digit(str[i + 2]))
      return std::string{str.substr(i, 3)};
    out += static_cast<char>(hex_value(str[i + 1]) * 16 + hex_value(str[i + 2]));
    i += 2;
  }
  return std::nullopt;
}

void percent_encode(std::string_view str, std::string& out) {
  constexpr char hex[] = "0123456789ABCDEF";
  for (char c : str) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += hex[byte >> 4];
      out += hex[byte & 0x0F];
    }
  }
}

std::string quoted(std::string_view str) {
  std::string result = "'";
  result += str;
  result += '\'';
  return result;
}

// Parses host[:port] at the front of `rest` and leaves `rest` behind it.
// `stops` are the characters that may follow the port. Returns the sentence
// that explains a failure.
std::optional<std::string> parse_address(std::string_view& rest,
                                         std::string_view stops,
                                         std::string& host, uint16_t& port) {
  auto fail = [](std::string text) { return std::optional<std::string>{text}; };
  auto stop_at = [&](std::string_view str) {
    return str.substr(0, str.find_first_of(stops));
  };
  // -- host ------------------------------------------------------------------
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return fail("The IPv6 address in the Redis URL lacks its closing ']'.");
    auto name = rest.substr(1, close - 1);
    if (name.empty())
      return fail("The Redis URL has an empty host.");
    for (char c : name)
      if (!is_ipv6_char(c))
        return fail("The IPv6 address " + quoted(name)
                    + " in the Redis URL contains the character "
                    + quoted(std::string_view{&c, 1}) + ".");
    if (name.find(':') == std::string_view::npos)
      return fail("The bracketed host " + quoted(name)
                  + " in the Redis URL is not an IPv6 address.");
    host = name;
    rest = rest.substr(close + 1);
  } else {
    size_t len = 0;
    while (len < rest.size() && is_host_char(rest[len]))
      ++len;
    host = rest.substr(0, len);
    rest = rest.substr(len);
    if (host.empty() && !rest.empty() && rest.front() != ':'
        && stops.find(rest.front()) == std::string_view::npos)
      return fail("The host in the Redis URL starts with "
                  + quoted(rest.substr(0, 1))
                  + ", which is not allowed in a host name.");
    if (host.empty())
      return fail("The Redis URL has an empty host.");
  }
  // -- port ------------------------------------------------------------------
  if (!rest.empty() && rest.front() == ':') {
    rest.remove_prefix(1);
    auto len = digit_prefix(rest);
    auto digits = rest.substr(0, len);
    auto tail = rest.substr(len);
    if (digits.empty()) {
      auto shown = stop_at(rest);
      if (shown.empty())
        return fail("The port after ':' in the Redis URL is empty.");
      return fail("The port " + quoted(shown)
                  + " in the Redis URL is not a number.");
    }
    auto number = parse_number(digits, std::numeric_limits<uint16_t>::max());
    if (!number || *number == 0)
      return fail("The port " + quoted(digits)
                  + " in the Redis URL is out of range (1..65535).");
    if (!tail.empty() && stops.find(tail.front()) == std::string_view::npos)
      return fail("The Redis URL has unexpected text " + quoted(stop_at(tail))
                  + " after the port.");
    port = static_cast<uint16_t>(*number);
    rest = tail;
  }
  return std::nullopt;
}

} // namespace

std::optional<redis_endpoint> parse_redis_url(std::string_view url,
                                              std::string* why) {
  auto fail = [why](std::string text) -> std::optional<redis_endpoint> {
    if (why != nullptr)
      *why = std::move(text);
    return std::nullopt;
  };
  redis_endpoint result;
  // -- scheme ----------------------------------------------------------------
  // Messages never quote the whole URL, the password, or a scheme that is
  // not a plain word: such text may hold the password.
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return fail("The Redis URL does not start with redis://, "
                "redis-sentinel:// or redis-cluster://.");
  auto scheme = url.substr(0, scheme_end);
  if (iequals(scheme, "rediss"))
    return fail("The Redis URL uses rediss:// (TLS), which is not supported; "
                "use redis://.");
  auto sentinel = iequals(scheme, "redis-sentinel");
  auto cluster = iequals(scheme, "redis-cluster");
  if (!sentinel && !cluster && !iequals(scheme, "redis")) {
    for (char c : scheme)
      if (!is_scheme_char(c))
        return fail("The Redis URL does not start with redis://, "
                    "redis-sentinel:// or redis-cluster://.");
    return fail("The Redis URL has the scheme " + quoted(scheme)
                + ", but only redis://, redis-sentinel:// and "
                  "redis-cluster:// are supported.");
  }
  auto rest = url.substr(scheme_end + 3);
  // -- credentials -----------------------------------------------------------
  // The last '@' ends the credentials: host, port and db never contain one,
  // while a carelessly unencoded password may.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    if (auto bad = percent_decode(userinfo.substr(0, colon), result.user))
      return fail("The user name in the Redis URL contains the malformed "
                  "percent escape " + quoted(*bad) + ".");
    // Unlike the user name's, this message leaves the escape out: quoting it
    // could reveal part of the password.
    if (colon != std::string_view::npos
        && percent_decode(userinfo.substr(colon + 1), result.password))
      return fail("The password in the Redis URL contains a malformed percent "
                  "escape.");
  }
  // -- master name (redis-sentinel://...#name) -------------------------------
  if (sentinel) {
    auto hash = rest.find('#');
    if (hash == std::string_view::npos || hash + 1 == rest.size())
      return fail("The redis-sentinel:// URL does not name the master: add "
                  "#master-name at its end.");
    if (auto bad = percent_decode(rest.substr(hash + 1), result.master_name))
      return fail("The master name in the Redis URL contains the malformed "
                  "percent escape " + quoted(*bad) + ".");
    rest = rest.substr(0, hash);
  }
  // -- hosts -----------------------------------------------------------------
  if (sentinel || cluster) {
    auto& list = sentinel ? result.sentinels : result.cluster_seeds;
    for (;;) {
      host_port address{"", sentinel ? default_sentinel_port
                                     : result.port};
      if (auto err = parse_address(rest, ",/", address.host, address.port))
        return fail(std::move(*err));
      list.push_back(std::move(address));
      if (rest.empty() || rest.front() != ',')
        break;
      rest.remove_prefix(1);
    }
  } else if (auto err = parse_address(rest, "/", result.host, result.port)) {
    return fail(std::move(*err));
  }
  // -- database --------------------------------------------------------------
  if (!rest.empty() && rest.front() == '/') {
    rest.remove_prefix(1);
    auto len = digit_prefix(rest);
    auto digits = rest.substr(0, len);
    auto tail = rest.substr(len);
    if (digits.empty() && !tail.empty())
      return fail("The database " + quoted(tail)
                  + " in the Redis URL is not a number.");
    if (!digits.empty()) {
      auto db = parse_number(digits, std::numeric_limits<uint32_t>::max());
      if (!db)
        return fail("The database number " + quoted(digits)
                    + " in the Redis URL is out of range (0..4294967295).");
      if (!tail.empty())
        return fail("The Redis URL has unexpected text " + quoted(tail)
                    + " after the database number.");
      result.db = static_cast<uint32_t>(*db);
    }
    rest = {};
  }
  if (!rest.empty())
    return fail("The Redis URL has unexpected text " + quoted(rest)
                + " after the host.");
  if (cluster && result.db != 0)
    return fail("The redis-cluster:// URL names database "
                + std::to_string(result.db)
                + ", but a Redis Cluster has only database 0.");
  if (cluster) {
    // The first seed stands for the endpoint until a slot map names the
    // primaries (logs, health).
    result.host = result.cluster_seeds.front().host;
    result.port = result.cluster_seeds.front().port;
  }
  return result;
}

std::string address_of(const host_port& x) {
  std::string out;
  if (x.host.find(':') != std::string::npos) {
    out += '[';
    out += x.host;
    out += ']';
  } else {
    out += x.host;
  }
  out += ':';
  out += std::to_string(x.port);
  return out;
}

std::string address_of(const redis_endpoint& x) {
  return address_of(host_port{x.host, x.port});
}

namespace {

/// The URL of `x` with the password as `password` ("***" when redacted).
std::string url_of(const redis_endpoint& x, bool redact) {
  std::string result = x.sentinel_managed() ? "redis-sentinel://"
                       : x.cluster()        ? "redis-cluster://"
                                            : "redis://";
  if (!x.user.empty() || !x.password.empty()) {
    percent_encode(x.user, result);
    if (!x.password.empty()) {
      result += ':';
      if (redact)
        result += "***";
      else
        percent_encode(x.password, result);
    }
    result += '@';
  }
  auto list = x.sentinel_managed() ? &x.sentinels
              : x.cluster()        ? &x.cluster_seeds
                                   : nullptr;
  if (list != nullptr) {
    for (size_t i = 0; i < list->size(); ++i) {
      if (i > 0)
        result += ',';
      result += address_of((*list)[i]);
    }
  } else {
    result += address_of(x);
  }
  result += '/';
  result += std::to_string(x.db);
  if (x.sentinel_managed()) {
    result += '#';
    percent_encode(x.master_name, result);
  }
  return result;
}

} // namespace

std::string redacted(const redis_endpoint& x) {
  return url_of(x, true);
}

std::string node_url(const redis_endpoint& cluster, const host_port& node) {
  redis_endpoint one;
  one.host = node.host;
  one.port = node.port;
  one.user = cluster.user;
  one.password = cluster.password;
  return url_of(one, false);
}

} // namespace cafcache
