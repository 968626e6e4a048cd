// The handshake of a Redis connection: AUTH / SELECT or PING, then the
// dataset identity from INFO server and INFO replication.

#include "actors/redis_connection.hpp"

#include <fmt/format.h>

#include "messages/errc.hpp"

namespace cafcache {

void redis_connection_state::on_handshake_reply(const resp_value& reply) {
  auto step = handshake_.front();
  handshake_.pop_front();
  auto self_handle = caf::actor_cast<caf::actor>(self_);
  // A server that refuses INFO (renamed command, ACL) still serves the cache;
  // only its identity stays unknown.
  auto info = reply.type == resp_value::kind::string
                ? std::string_view{reply.str}
                : std::string_view{};
  switch (step) {
    case handshake_step::setup:
      if (reply.is_error()) {
        auto code = reply.str.compare(0, 8, "WRONGPAS") == 0
                        || reply.str.compare(0, 6, "NOAUTH") == 0
                        || reply.str.find("AUTH") != std::string::npos
                      ? errc::auth_failed
                      : errc::bad_config;
        auto err = make_error(code, reply.str);
        self_->send(supervisor_, hello_atom::value, slot_, attempt_,
                    self_handle, err, std::string{});
        on_closed(err);
        return;
      }
      break;
    case handshake_step::info_server:
      info_.run_id = info_field(info, "run_id");
      break;
    case handshake_step::info_replication:
      info_.role = info_field(info, "role");
      info_.master_replid = info_field(info, "master_replid");
      if (follow_failover_ && !info_.role.empty() && info_.role != "master") {
        // A Sentinel that has not seen the failover yet named a replica.
        auto err = make_error(errc::redis_unavailable,
                              fmt::format("{}, named master by a Sentinel, "
                                          "is a {}",
                                          address_, info_.role));
        self_->send(supervisor_, hello_atom::value, slot_, attempt_,
                    self_handle, err, std::string{});
        on_closed(err);
        return;
      }
      break;
  }
  if (handshake_.empty()) {
    self_->send(supervisor_, hello_atom::value, slot_, attempt_, self_handle,
                caf::error{}, info_.identity());
    schedule_idle_check();
  }
}

void redis_connection_state::on_handshake_deadline() {
  if (handshake_.empty())
    return;
  auto err = make_error(errc::redis_unavailable,
                        "Redis accepted the connection but did not answer "
                        "within cafcache.connect-timeout");
  self_->send(supervisor_, hello_atom::value, slot_, attempt_,
              caf::actor_cast<caf::actor>(self_), err, std::string{});
  on_closed(std::move(err));
}

void redis_connection_state::write(handshake_step step,
                                   const std::vector<std::string>& argv) {
  write(argv);
  handshake_.push_back(step);
}

} // namespace cafcache
