#include "actors/sentinel_watcher.hpp"

#include <algorithm>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "actors/connector.hpp"
#include "messages/errc.hpp"
#include "runtime/resp.hpp"

namespace cafcache {

namespace {

/// `+switch-master` carries "<name> <old-ip> <old-port> <new-ip> <new-port>".
struct switch_master {
  std::string name;
  std::string host;
  uint16_t port = 0;
};

std::optional<switch_master> parse_switch(const std::string& payload) {
  std::istringstream in{payload};
  switch_master out;
  std::string old_host;
  unsigned old_port = 0;
  unsigned new_port = 0;
  if (!(in >> out.name >> old_host >> old_port >> out.host >> new_port)
      || new_port == 0 || new_port > 65535)
    return std::nullopt;
  out.port = static_cast<uint16_t>(new_port);
  return out;
}

} // namespace

void sentinel_watcher_state::init(const redis_endpoint& master,
                                  const config& cfg, caf::actor supervisor) {
  master_ = master;
  cfg_ = cfg;
  supervisor_ = std::move(supervisor);
  log_ = logger::named(cfg.log_level);
  std::random_device rd;
  delays_.emplace(
    std::chrono::duration_cast<std::chrono::milliseconds>(cfg.reconnect_min),
    std::chrono::duration_cast<std::chrono::milliseconds>(cfg.reconnect_max),
    cfg.backoff_factor, cfg.jitter, rd());
  self_->monitor(supervisor_);
  connect();
}

void sentinel_watcher_state::connect() {
  auto& at = master_.sentinels[next_ % master_.sentinels.size()];
  redis_endpoint sentinel;
  sentinel.host = at.host;
  sentinel.port = at.port;
  sentinel.user = master_.sentinel_user;
  sentinel.password = master_.sentinel_password;
  ++attempt_;
  self_->spawn<caf::detached>(connector, caf::actor_cast<caf::actor>(self_),
                              0u, attempt_, sentinel, cfg_,
                              cache_internal_actor{});
}

void sentinel_watcher_state::on_hello(uint64_t attempt, caf::actor conn,
                                      caf::error err) {
  if (attempt != attempt_) {
    if (!err)
      self_->send_exit(conn, caf::exit_reason::kill);
    return;
  }
  if (err) {
    failed(err);
    return;
  }
  conn_ = conn;
  self_->monitor(conn_);
  delays_->reset();
  schedule_ping();
  caf::anon_send(conn_, subscribe_atom::value,
                 caf::actor_cast<caf::actor>(self_), uint64_t{0});
  self_->request(conn_, caf::infinite, cmd_atom::value,
                 std::vector<std::string>{"SUBSCRIBE", "+switch-master"})
    .then([](resp_value&) {}, [](caf::error&) {});
}

void sentinel_watcher_state::schedule_ping() {
  self_->delayed_send(self_, ping_interval(), ping_atom::value, attempt_);
}

caf::timespan sentinel_watcher_state::ping_interval() const {
  return std::max<caf::timespan>(cfg_.sentinel_timeout * 2,
                                 std::chrono::seconds(1));
}

void sentinel_watcher_state::on_ping(uint64_t attempt) {
  if (attempt != attempt_ || !conn_)
    return;
  // A Sentinel that accepts and never answers (paused, a dead host behind a
  // proxy) would leave the subscription silent; a PING it does not answer
  // in time moves the watch to the next one.
  auto conn = conn_;
  self_->request(conn, cfg_.sentinel_timeout, cmd_atom::value,
                 std::vector<std::string>{"PING"})
    .then(
      [this, attempt](resp_value&) {
        if (attempt == attempt_ && conn_)
          schedule_ping();
      },
      [this, attempt, conn](caf::error&) {
        if (attempt != attempt_ || conn_ != conn)
          return;
        self_->demonitor(conn_);
        self_->send_exit(conn_, caf::exit_reason::kill);
        conn_ = nullptr;
        failed(make_error(errc::redis_unavailable,
                          "the Sentinel did not answer PING within "
                          "cafcache.sentinel-timeout"));
      });
}

void sentinel_watcher_state::on_attempt_failed(uint64_t attempt,
                                               caf::error err) {
  if (attempt == attempt_)
    failed(err);
}

void sentinel_watcher_state::on_lost(uint64_t attempt) {
  if (attempt != attempt_ || !conn_)
    return;
  // A lost connection lingers until released.
  caf::anon_send(conn_, release_atom::value);
  conn_ = nullptr;
  failed(make_error(errc::redis_unavailable, "connection to Sentinel lost"));
}

void sentinel_watcher_state::on_down(const caf::down_msg& msg) {
  if (msg.source == supervisor_.address()) {
    // The connection monitors this actor and closes itself when it is gone
    // (redis_connection_state::on_supervisor_down).
    self_->quit();
    return;
  }
  if (conn_ && msg.source == conn_.address()) {
    conn_ = nullptr;
    failed(make_error(errc::redis_unavailable, "connection to Sentinel lost"));
  }
}

void sentinel_watcher_state::failed(const caf::error& err) {
  auto& at = master_.sentinels[next_ % master_.sentinels.size()];
  ++next_;
  auto delay = delays_->next();
  if (log_.enabled(log_level::warn))
    log_.write(log_level::warn, "sentinel_unwatched",
               {{"sentinel", address_of(at)},
                {"error", log_text(err)},
                {"retry_in", fmt::format("{}ms", delay.count())}});
  self_->delayed_send(self_, delay, retry_atom::value, attempt_);
}

void sentinel_watcher_state::on_retry(uint64_t attempt) {
  if (attempt == attempt_ && !conn_)
    connect();
}

void sentinel_watcher_state::on_push(const std::string&,
                                     const std::string& payload) {
  auto x = parse_switch(payload);
  if (!x || x->name != master_.master_name)
    return;
  if (log_.enabled(log_level::info))
    log_.write(log_level::info, "switch_master",
               {{"master", x->name},
                {"to", address_of(host_port{x->host, x->port})}});
  self_->send(supervisor_, failover_atom::value, x->host, x->port);
}

caf::behavior
sentinel_watcher(caf::stateful_actor<sentinel_watcher_state>* self,
                 redis_endpoint master, config cfg, caf::actor supervisor) {
  self->state.init(master, cfg, std::move(supervisor));
  self->set_down_handler(
    [self](caf::down_msg& msg) { self->state.on_down(msg); });
  return {
    [=](hello_atom, uint32_t, uint64_t attempt, caf::actor& conn,
        caf::error& err, std::string&) {
      self->state.on_hello(attempt, std::move(conn), std::move(err));
    },
    [=](attempt_atom, uint32_t, uint64_t attempt, caf::error& err) {
      self->state.on_attempt_failed(attempt, std::move(err));
    },
    [=](lost_atom, uint32_t, uint64_t attempt, caf::error&) {
      self->state.on_lost(attempt);
    },
    [=](retry_atom, uint64_t attempt) { self->state.on_retry(attempt); },
    [=](ping_atom, uint64_t attempt) { self->state.on_ping(attempt); },
    [=](push_atom, const std::string& channel, const std::string& payload) {
      self->state.on_push(channel, payload);
    },
    [=](batch_sizes_atom, const bucket_histogram&) {
      // A closing Sentinel connection's counts are not the pool's.
    },
  };
}

} // namespace cafcache
