// The cache actor's side of cross-node coherence (see runtime/coherence.hpp):
// publishing its own writes, applying the other nodes', and the rule for a
// gap in the subscription.

#include "actors/cache.hpp"

#include "messages/errc.hpp"

namespace cafcache {

void cache_state::publish(const caf::actor& conn, coherence::scope what,
                          const std::string& name) {
  send_publish(conn, coherence::encode(node_id_, what, name));
}

void cache_state::publish_keys(const caf::actor& conn,
                               const std::vector<const std::string*>& keys) {
  std::vector<std::string> message;
  size_t bytes = 0;
  for (auto key : keys) {
    if (coherence::message_full(message.size(), bytes, key->size())) {
      send_publish(conn, coherence::encode_keys(node_id_, message));
      message.clear();
      bytes = 0;
    }
    message.push_back(*key);
    bytes += key->size();
  }
  if (!message.empty())
    send_publish(conn, coherence::encode_keys(node_id_, message));
}

void cache_state::send_publish(const caf::actor& conn, std::string payload) {
  if (!coherent_mode())
    return;
  // Sent right behind the write on the same connection, so Redis runs it
  // after the write; the reply carries nothing the cache needs.
  std::vector<std::string> argv{"PUBLISH", channel_, std::move(payload)};
  self_->request(conn, caf::infinite, cmd_atom::value, std::move(argv))
    .then([](resp_value&) {}, [](caf::error&) {});
}

void cache_state::on_subscriber(caf::actor conn) {
  if (subscriber_ && subscriber_ != conn)
    caf::anon_send(subscriber_, release_atom::value);
  subscriber_ = conn;
  if (!conn) {
    if (readiness_.subscription_reported())
      become_ready();
    // Whatever other nodes publish from now on is lost to this node.
    if (subscribed_)
      ++stats_.coherence_gaps;
    subscribed_ = false;
    return;
  }
  // Names this actor as the receiver of published messages; it arrives
  // before the SUBSCRIBE below, which leaves this actor after it.
  caf::anon_send(conn, subscribe_atom::value, caf::actor_cast<caf::actor>(self_),
                 node_id_);
  self_->request(conn, caf::infinite, cmd_atom::value,
                 std::vector<std::string>{"SUBSCRIBE", channel_})
    .then(
      [this, conn](resp_value& reply) {
        if (reply.is_error() || conn != subscriber_)
          return;
        // Rule for gaps: entries stored before the subscription (re)started
        // may have missed an invalidation, so they are dropped now, and
        // replies already under way are not copied into the fallback. Until
        // then they were served only as stale-if-error, like every fallback
        // answer.
        subscribed_ = true;
        guard_.invalidated_all();
        self_->send(fallback_, clear_atom::value);
        if (readiness_.subscription_reported())
          become_ready();
      },
      [](caf::error&) {
        // The connection died; the supervisor reports it and reconnects.
      });
}

void cache_state::on_push(const std::string& channel,
                          const std::string& payload) {
  if (channel != channel_)
    return;
  auto msg = coherence::decode(payload);
  if (!msg || msg->node == node_id_)
    return;
  switch (msg->scope) {
    case coherence::scope::key: {
      // One message may name many keys (written together on one node).
      stats_.peer_invalidations += msg->names.size();
      std::vector<mirror_entry> erased(msg->names.size());
      for (size_t i = 0; i < msg->names.size(); ++i) {
        guard_.invalidated(msg->names[i]);
        erased[i].key = std::move(msg->names[i]);
      }
      self_->send(fallback_, put_atom::value, std::move(erased));
      break;
    }
    case coherence::scope::tag:
      ++stats_.peer_invalidations;
      guard_.invalidated_all();
      self_->send(fallback_, delete_atom::value, tag_atom::value,
                  std::move(msg->names.front()), false);
      break;
    case coherence::scope::all:
      ++stats_.peer_invalidations;
      guard_.invalidated_all();
      self_->send(fallback_, clear_atom::value);
      break;
  }
}

} // namespace cafcache
