// Fuzz target for Redis URL parsing (runtime/redis_url.cpp): any input either
// parses or comes with an explanation; the explanation never depends on the
// password; and a parsed endpoint survives redacted() -> parse_redis_url with
// everything but the password, which reads "***".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/redis_url.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using cafcache::parse_redis_url;
using cafcache::redis_endpoint;

bool same_place(const redis_endpoint& x, const redis_endpoint& y) {
  return x.host == y.host && x.port == y.port && x.user == y.user
         && x.db == y.db;
}

// Where the password of url is, as the parser finds it: after the first ':'
// of the text between "://" and the last '@'. Empty when there is none.
std::string_view password_span(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return {};
  auto rest = url.substr(scheme_end + 3);
  auto at = rest.rfind('@');
  if (at == std::string_view::npos)
    return {};
  auto userinfo = rest.substr(0, at);
  auto colon = userinfo.find(':');
  if (colon == std::string_view::npos)
    return {};
  return userinfo.substr(colon + 1);
}

bool has_percent_error(std::string_view str) {
  for (size_t i = 0; i < str.size(); ++i) {
    if (str[i] != '%')
      continue;
    if (i + 2 >= str.size())
      return true;
    auto hex = [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
             || (c >= 'A' && c <= 'F');
    };
    if (!hex(str[i + 1]) || !hex(str[i + 2]))
      return true;
    i += 2;
  }
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view url{reinterpret_cast<const char*>(data), size};
  std::string why;
  auto parsed = parse_redis_url(url, &why);
  FUZZ_CHECK(parsed.has_value() == why.empty());
  auto without_why = parse_redis_url(url, nullptr);
  FUZZ_CHECK(parsed.has_value() == without_why.has_value());
  // Swapping the password for another well-formed one changes nothing but
  // the password: not the outcome, not a word of the explanation.
  auto password = password_span(url);
  if (!password.empty() && !has_percent_error(password)) {
    auto offset = static_cast<size_t>(password.data() - url.data());
    std::string other{url};
    other.replace(offset, password.size(), password.size(), 'Q');
    std::string other_why;
    auto other_parsed = parse_redis_url(other, &other_why);
    FUZZ_CHECK(parsed.has_value() == other_parsed.has_value());
    FUZZ_CHECK(why == other_why);
    if (parsed)
      FUZZ_CHECK(same_place(*parsed, *other_parsed));
  }
  if (!parsed)
    return 0;
  FUZZ_CHECK(!parsed->host.empty());
  FUZZ_CHECK(parsed->port != 0);
  auto shown = cafcache::redacted(*parsed);
  std::string shown_why;
  auto reparsed = parse_redis_url(shown, &shown_why);
  FUZZ_CHECK(reparsed.has_value());
  FUZZ_CHECK(same_place(*parsed, *reparsed));
  FUZZ_CHECK(reparsed->password == (parsed->password.empty() ? "" : "***"));
  FUZZ_CHECK(cafcache::redacted(*reparsed) == shown);
  return 0;
}
