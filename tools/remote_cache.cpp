#include "tools/remote_cache.hpp"

#include <algorithm>
#include <set>

#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>

namespace cafcache {

std::optional<node_address> parse_node_address(const std::string& text,
                                               std::string* why) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    *why = "expected HOST:PORT, got \"" + text + "\"";
    return std::nullopt;
  }
  auto digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5
      || !std::all_of(digits.begin(), digits.end(),
                      [](char c) { return c >= '0' && c <= '9'; })
      || std::stoul(digits) == 0 || std::stoul(digits) > 65535) {
    *why = "the port of \"" + text + "\" is not between 1 and 65535";
    return std::nullopt;
  }
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return node_address{host, static_cast<uint16_t>(std::stoul(digits))};
}

caf::expected<cache_actor> connect_cache(caf::actor_system& sys,
                                         const node_address& addr, bool tls,
                                         caf::timespan timeout) {
  auto mm = tls ? sys.openssl_manager().actor_handle()
                : sys.middleman().actor_handle();
  auto wanted = sys.message_types(caf::detail::type_list<cache_actor>{});
  caf::expected<cache_actor> out{caf::sec::request_timeout};
  caf::scoped_actor self{sys};
  self->request(mm, timeout, caf::connect_atom::value, addr.host, addr.port)
    .receive(
      [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>& offered) {
        if (!ptr || !std::includes(offered.begin(), offered.end(),
                                   wanted.begin(), wanted.end()))
          out = caf::make_error(caf::sec::unexpected_actor_messaging_interface);
        else
          out = caf::actor_cast<cache_actor>(std::move(ptr));
      },
      [&](caf::error& err) { out = std::move(err); });
  return out;
}

} // namespace cafcache
