// The cache actor's handling of its own actors' signals: the breaker's route,
// the supervisor's connection slots, and readiness (see actors/cache.hpp).

#include "actors/cache.hpp"

#include <algorithm>

#include "messages/errc.hpp"

namespace cafcache {

// -- signals from breaker and supervisor --------------------------------------

void cache_state::on_route(breaker_state state) {
  if (state == route_)
    return;
  // Credentials or settings that never worked end spawn_cache with their
  // error; the breaker opening on the way is no news to anyone.
  auto refused_at_start = never_connected()
                          && (is(conn_error_, errc::auth_failed)
                              || is(conn_error_, errc::bad_config));
  if (!refused_at_start)
    log_.write(state == breaker_state::open ? log_level::warn
                                            : log_level::info,
               "breaker",
               {{"from", to_string(route_)}, {"to", to_string(state)},
                {"redis", redis_redacted_}});
  route_ = state;
  // A node of a Redis Cluster that fails may have been replaced.
  if (state != breaker_state::closed)
    ask_for_slot_map();
  switch (state) {
    case breaker_state::open:
      ++stats_.breaker_opened;
      needs_replay_ = true;
      break;
    case breaker_state::half_open:
      ++stats_.breaker_half_opened;
      needs_replay_ = true;
      probe_pending_ = true;
      break;
    case breaker_state::closed:
      ++stats_.breaker_closed;
      break;
  }
  maybe_recover();
}

void cache_state::on_connection(uint32_t slot, caf::actor conn,
                                caf::error err, std::string identity) {
  if (slot == conns_.size() && coherent_mode()) {
    on_subscriber(std::move(conn));
    return;
  }
  if (slot >= conns_.size())
    return;
  // What was collected for the connection this replaces goes to it first.
  flush_gets();
  auto slot_name = std::to_string(slot);
  if (!conn)
    ask_for_slot_map();
  if (conns_[slot] && !conn) {
    auto sentence = err ? log_text(err) : std::string{};
    log_.write(log_level::warn, "connection_lost",
               {{"slot", slot_name}, {"redis", redis_redacted_},
                {"error", sentence}});
  }
  // A lost connection answers what this actor still sent it until released;
  // from here on nothing more goes there.
  if (conns_[slot] && conns_[slot] != conn)
    caf::anon_send(conns_[slot], release_atom::value);
  conns_[slot] = conn;
  router_.set_up(slot, conn != nullptr);
  if (conn && !identity.empty())
    on_dataset(identity);
  if (conn) {
    if (ever_connected_[slot]) {
      ++stats_.reconnects;
      log_.write(log_level::info, "reconnected",
                 {{"slot", slot_name}, {"redis", redis_redacted_}});
    }
    ever_connected_[slot] = true;
    conn_error_ = caf::none;
  } else {
    conn_error_ = std::move(err);
  }
  if (conn ? readiness_.slot_connected(slot) : readiness_.slot_failed())
    become_ready();
  maybe_recover();
}

void cache_state::on_dataset(const std::string& identity) {
  if (dataset_ == identity)
    return;
  auto previous = std::move(dataset_);
  dataset_ = identity;
  if (!previous.empty() && cluster_ && !owned_.empty()) {
    // A Cluster node with another dataset (restarted, or demoted and
    // promoted again) may hold older values for its slots than what other
    // nodes' caches had acknowledged meanwhile, and this cache may never
    // have seen its slots move: its keys in them go before it is read.
    auto slots = owned_.peek(owned_.size());
    slots_to_flush_.add(slots);
    log_.write(log_level::warn, "slots_reacquired",
               {{"redis", redis_redacted_},
                {"slots", std::to_string(slots.size())}});
    guard_.invalidated_all();
    needs_replay_ = true;
  }
  if (previous.empty() || !recent_.enabled())
    return;
  // Redis restarted or another node took over: it may have lost the last
  // writes it acknowledged. Whatever was written recently goes to the dirty
  // log, and reads wait for the replay that deletes it (the drain reaches
  // the fallback after this batch: messages of one sender keep their order).
  ++stats_.dataset_changes;
  auto written = recent_.written_since(self_->clock().now());
  log_.write(log_level::warn, "dataset_changed",
             {{"from", previous}, {"to", identity},
              {"keys", std::to_string(written.keys.size())},
              {"tags", std::to_string(written.tags.size())},
              {"flush", written.overflowed ? "true" : "false"}});
  guard_.invalidated_all();
  ++dirty_since_drain_;
  needs_replay_ = true;
  if (written.overflowed || !written.keys.empty() || !written.tags.empty())
    self_->send(fallback_, dirty_atom::value, std::move(written));
}

void cache_state::become_ready() {
  auto answer = ready_answer();
  for (auto& rp : ready_waiters_)
    if (answer)
      rp.deliver(*answer);
    else
      rp.deliver(answer.error());
  ready_waiters_.clear();
}

caf::expected<bool> cache_state::ready_answer() const {
  if (is(conn_error_, errc::auth_failed) || is(conn_error_, errc::bad_config))
    return conn_error_;
  return static_cast<bool>(any_connection());
}

caf::result<bool> cache_state::ready() {
  if (readiness_.decided()) {
    auto answer = ready_answer();
    if (!answer)
      return std::move(answer.error());
    return *answer;
  }
  ready_waiters_.push_back(self_->make_response_promise<bool>());
  return ready_waiters_.back();
}

} // namespace cafcache
