#include "actors/supervisor.hpp"

#include <random>

#include <caf/io/middleman.hpp>
#include <fmt/format.h>

#include "actors/connector.hpp"
#include "actors/null_connection.hpp"
#include "actors/sentinel_watcher.hpp"
#include "actors/redis_connection.hpp"
#include "messages/errc.hpp"

namespace cafcache {


void supervisor_state::init(const config& cfg, cache_internal_actor cache,
                            breaker_actor breaker) {
  cfg_ = cfg;
  endpoint_ = cfg.endpoint();
  redis_redacted_ = redacted(endpoint_);
  log_ = logger::named(cfg.log_level);
  failed_lines_ = log_throttle{cfg.log_burst};
  cache_ = std::move(cache);
  breaker_ = std::move(breaker);
  // With coherence, one more slot carries the subscription to the other
  // caches' invalidations; it is not part of the pool the breaker watches.
  auto subscriber = cfg.coherence && cfg.backend_type() == backend_kind::redis
                      ? 1u
                      : 0u;
  slots_.resize(cfg.pool_size + subscriber);
  std::random_device rd;
  for (auto& slot : slots_)
    slot.delays.emplace(
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.reconnect_min),
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.reconnect_max),
      cfg.backoff_factor, cfg.jitter, rd());
  self_->set_exit_handler([this](caf::exit_msg& msg) { on_exit(msg); });
  if (endpoint_.sentinel_managed() && cfg.backend_type() == backend_kind::redis)
    self_->spawn(sentinel_watcher, endpoint_, cfg_,
                 caf::actor_cast<caf::actor>(self_));
  for (uint32_t i = 0; i < slots_.size(); ++i)
    connect(i);
}

void supervisor_state::connect(uint32_t slot) {
  auto& s = slots_[slot];
  s.connecting = true;
  ++s.attempt;
  if (cfg_.backend_type() == backend_kind::null) {
    // One store for every slot, as one Redis serves every connection.
    if (!null_store_)
      null_store_ = std::make_shared<null_store>();
    on_hello(slot, s.attempt,
             self_->spawn(null_connection, null_store_, cache_,
                          cfg_.key_prefix, cfg_.mirror_refresh()),
             caf::error{}, std::string{});
    return;
  }
  if (cfg_.backend_type() == backend_kind::memory) {
    // No Redis to connect to, now or later: report the slot down once, which
    // opens the breaker for good and leaves every request to the fallback.
    s.connecting = false;
    self_->send(cache_, conn_atom::value, slot, caf::actor{},
                make_error(errc::redis_unavailable,
                           "cafcache.backend is \"memory\": no Redis"),
                std::string{});
    self_->send(breaker_, conn_atom::value, false);
    return;
  }
  // The connection gives its handshake the same time and closes its socket
  // when that passes: the attempt is given up here, but only the connection
  // can close what it holds.
  self_->spawn<caf::detached>(connector, caf::actor_cast<caf::actor>(self_),
                              slot, s.attempt, endpoint_, cfg_, cache_);
  self_->delayed_send(self_, cfg_.connect_timeout, connect_deadline_atom::value, slot,
                      s.attempt);
}

bool supervisor_state::pending(uint32_t slot, uint64_t attempt) const {
  return slot < slots_.size() && attempt == slots_[slot].attempt
         && slots_[slot].connecting;
}

void supervisor_state::on_hello(uint32_t slot, uint64_t attempt,
                                caf::actor conn, caf::error err,
                                std::string identity) {
  if (!pending(slot, attempt)) {
    // An attempt we already gave up on finished after all. A failed one has
    // closed itself; a successful one holds a socket nobody will use, and
    // the broker's cleanup closes it (its handshake is over, so the socket
    // is in the event loop: see redis_connection_state::init).
    if (!err)
      self_->send_exit(conn, caf::exit_reason::kill);
    return;
  }
  if (err) {
    attempt_failed(slot, std::move(err));
    return;
  }
  auto& s = slots_[slot];
  s.connecting = false;
  s.conn = conn;
  s.failures = 0;
  s.delays->reset();
  self_->link_to(conn);
  self_->send(cache_, conn_atom::value, slot, conn, caf::error{},
              std::move(identity));
  if (slot < cfg_.pool_size && pool_up() == 1)
    self_->send(breaker_, conn_atom::value, true);
}

size_t supervisor_state::pool_up() const {
  size_t n = 0;
  for (uint32_t i = 0; i < cfg_.pool_size && i < slots_.size(); ++i)
    if (slots_[i].conn)
      ++n;
  return n;
}

void supervisor_state::on_connect_failed(uint32_t slot, uint64_t attempt,
                                         caf::error err) {
  if (pending(slot, attempt))
    attempt_failed(slot, std::move(err));
}

void supervisor_state::on_attempt_timeout(uint32_t slot, uint64_t attempt) {
  if (pending(slot, attempt))
    attempt_failed(slot, make_error(errc::redis_unavailable,
                                    "connecting to Redis took longer than "
                                    "cafcache.connect-timeout"));
}

void supervisor_state::on_lost(uint32_t slot, uint64_t attempt,
                               caf::error err) {
  if (slot >= slots_.size() || slots_[slot].attempt != attempt
      || !slots_[slot].conn)
    return;
  auto& s = slots_[slot];
  // It lingers until the cache releases it; its exit is no news then.
  self_->unlink_from(s.conn);
  s.conn = nullptr;
  failed(slot, std::move(err));
}

void supervisor_state::on_exit(const caf::exit_msg& msg) {
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    auto& s = slots_[i];
    if (s.conn && s.conn.address() == msg.source) {
      s.conn = nullptr;
      auto err = msg.reason && msg.reason.category() == errc_category
                   ? msg.reason
                   : make_error(errc::redis_unavailable,
                                "connection to Redis lost");
      failed(i, std::move(err));
      return;
    }
  }
  // Not one of ours: the owner is going away.
  self_->quit(msg.reason);
}

void supervisor_state::on_failover(const std::string& host, uint16_t port) {
  // The new primary is known now: no slot waits out a backoff grown during
  // the outage. A connection to another server closes and comes back after
  // the first delay; an idle slot tries at once.
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    auto& s = slots_[i];
    s.delays->reset();
    if (s.conn)
      self_->send(s.conn, failover_atom::value, host, port);
    else if (!s.connecting)
      connect(i);
  }
}

void supervisor_state::on_demoted(const std::string& address) {
  for (auto& s : slots_)
    if (s.conn)
      self_->send(s.conn, demoted_atom::value, address);
}

void supervisor_state::on_retry(uint32_t slot) {
  if (slot < slots_.size() && !slots_[slot].conn && !slots_[slot].connecting)
    connect(slot);
}

void supervisor_state::on_batch_sizes(const bucket_histogram& counts) {
  self_->send(cache_, batch_sizes_atom::value, counts);
}

void supervisor_state::attempt_failed(uint32_t slot, caf::error err) {
  auto& s = slots_[slot];
  s.connecting = false;
  ++s.failures;
  auto delay = failed(slot, err);
  // The backoff spaces each slot's lines; the throttle bounds a large pool.
  uint64_t held = 0;
  if (!log_.enabled(log_level::warn)
      || !failed_lines_.admit(self_->clock().now(), held))
    return;
  auto sentence = log_text(err);
  auto slot_name = fmt::to_string(slot);
  auto failures = fmt::to_string(s.failures);
  auto retry_in = fmt::format("{}ms", delay.count());
  auto suppressed = held > 0 ? fmt::to_string(held) : std::string{};
  log_.write(log_level::warn, "connect_failed",
             {{"slot", slot_name},
              {"redis", redis_redacted_},
              {"error", sentence},
              {"failures", failures},
              {"retry_in", retry_in},
              {"suppressed", suppressed}});
}

std::chrono::milliseconds supervisor_state::failed(uint32_t slot,
                                                   const caf::error& err) {
  self_->send(cache_, conn_atom::value, slot, caf::actor{}, err,
              std::string{});
  // The breaker hears of Redis being gone, not of one connection: while
  // another is up, the cache routes the lost one's keys there.
  if (slot < cfg_.pool_size && pool_up() == 0)
    self_->send(breaker_, conn_atom::value, false);
  auto delay = slots_[slot].delays->next();
  self_->delayed_send(self_, delay, retry_atom::value, slot);
  return delay;
}

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self,
                         config cfg, cache_internal_actor cache,
                         breaker_actor breaker) {
  self->state.init(cfg, std::move(cache), std::move(breaker));
  return {
    [=](hello_atom, uint32_t slot, uint64_t attempt, caf::actor& conn,
        caf::error& err, std::string& identity) {
      self->state.on_hello(slot, attempt, std::move(conn), std::move(err),
                           std::move(identity));
    },
    [=](attempt_atom, uint32_t slot, uint64_t attempt, caf::error& err) {
      self->state.on_connect_failed(slot, attempt, std::move(err));
    },
    [=](connect_deadline_atom, uint32_t slot, uint64_t attempt) {
      self->state.on_attempt_timeout(slot, attempt);
    },
    [=](retry_atom, uint32_t slot) { self->state.on_retry(slot); },
    [=](lost_atom, uint32_t slot, uint64_t attempt, caf::error& err) {
      self->state.on_lost(slot, attempt, std::move(err));
    },
    [=](batch_sizes_atom, const bucket_histogram& counts) {
      self->state.on_batch_sizes(counts);
    },
    [=](failover_atom, const std::string& host, uint16_t port) {
      self->state.on_failover(host, port);
    },
    [=](demoted_atom, const std::string& address) {
      self->state.on_demoted(address);
    },
  };
}

} // namespace cafcache
