#include "actors/redis_connection.hpp"

#include <fmt/format.h>

#include "messages/errc.hpp"
#include "runtime/coherence.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

void redis_connection_state::init(caf::io::connection_handle hdl,
                                  caf::actor supervisor, uint32_t slot,
                                  uint64_t attempt,
                                  const redis_endpoint& endpoint,
                                  uint32_t max_pending,
                                  caf::timespan handshake_timeout,
                                  caf::timespan stall_timeout,
                                  cache_internal_actor cache,
                                  std::string key_prefix,
                                  caf::timespan sweep_interval,
                                  caf::timespan mirror_refresh) {
  hdl_ = hdl;
  stall_timeout_ = stall_timeout;
  relay_ = job_relay{self_, std::move(cache), mirror_refresh};
  key_prefix_ = std::move(key_prefix);
  channel_ = coherence::channel(key_prefix_);
  sweep_interval_ = sweep_interval;
  supervisor_ = std::move(supervisor);
  slot_ = slot;
  attempt_ = attempt;
  max_pending_ = max_pending;
  follow_failover_ = endpoint.sentinel_managed();
  address_ = address_of(endpoint);
  // A connection whose attempt outlived its supervisor must not linger.
  self_->monitor(supervisor_);
  self_->configure_read(hdl_, caf::io::receive_policy::at_most(64 * 1024));
  if (!endpoint.password.empty()) {
    if (endpoint.user.empty())
      write(handshake_step::setup, {"AUTH", endpoint.password});
    else
      write(handshake_step::setup, {"AUTH", endpoint.user, endpoint.password});
  }
  if (endpoint.db != 0)
    write(handshake_step::setup, {"SELECT", std::to_string(endpoint.db)});
  if (handshake_.empty()) {
    // PING proves that the peer speaks RESP before anyone relies on it.
    write(handshake_step::setup, {"PING"});
  }
  // Which dataset this is: a restarted Redis or a promoted replica shows a
  // new identity, and the cache learns that writes may have been lost.
  write(handshake_step::info_server, {"INFO", "server"});
  write(handshake_step::info_replication, {"INFO", "replication"});
  self_->flush(hdl_);
  // A peer that accepts TCP and never answers (a proxy whose backend is
  // down) would otherwise hold this socket for as long as the supervisor
  // lives. The timeout counts from here, not from the supervisor's start of
  // the attempt: a deadline the TCP connect used up would close the broker
  // right after it started, and a broker closed before its socket's first
  // events were handled leaves the descriptor open (CAF 0.17.6, measured in
  // tests/connection.test.cpp). Sent without a sender: a broker that quit
  // never empties its mailbox in CAF 0.17, and a message from itself there
  // would keep it, and its supervisor, alive forever (LeakSanitizer).
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self_),
                         handshake_timeout, handshake_deadline_atom::value);
}

redis_connection_state::promise_type
redis_connection_state::on_command(const std::vector<std::string>& argv) {
  auto rp = self_->make_response_promise<resp_value>();
  if (lost_) {
    rp.deliver(lost_);
    return rp;
  }
  if (requests() >= max_pending_) {
    rp.deliver(make_error(errc::overloaded));
    return rp;
  }
  count_batch();
  write(argv);
  ++batch_;
  waiting x;
  x.reply = rp;
  x.sent = self_->clock().now();
  pending_.push_back(std::move(x));
  written();
  return rp;
}

template <class Promise, class Job>
bool redis_connection_state::admit(Promise& rp, Job& job) {
  if (!relay_) {
    rp.deliver(make_error(errc::redis_unavailable, "no cache to report to"));
    return false;
  }
  if (lost_ || requests() >= max_pending_) {
    relay_.hand_over(rp, job, lost_ ? lost_ : make_error(errc::overloaded));
    return false;
  }
  count_batch();
  return true;
}

void redis_connection_state::enqueue(waiting x) {
  ++batch_;
  x.sent = self_->clock().now();
  pending_.push_back(std::move(x));
  ++jobs_;
}

void redis_connection_state::write_get(job_relay::promise_type& rp,
                                       get_job& job) {
  if (!admit(rp, job))
    return;
  if (job.asking)
    ask_next();
  append_get(self_->wr_buf(hdl_), key_prefix_, job.key);
  waiting x;
  x.what = waiting::kind::get;
  x.client = std::move(rp);
  x.job = std::move(job);
  enqueue(std::move(x));
}

job_relay::promise_type redis_connection_state::on_get(get_job& job) {
  auto rp = self_->make_response_promise();
  write_get(rp, job);
  written();
  return rp;
}

void redis_connection_state::on_gets(get_batch& batch) {
  job_relay::each_get(self_, batch,
                      [this](auto& rp, get_job& job) { write_get(rp, job); });
  written();
}

void redis_connection_state::written() {
  self_->flush(hdl_);
  wrote_since_check_ = true;
  count_batch();
  if (!pending_.empty())
    schedule_sweep();
}

job_relay::write_promise redis_connection_state::on_write(write_job& job) {
  auto rp = self_->make_response_promise<write_result>();
  if (!admit(rp, job))
    return rp;
  if (job.asking)
    ask_next();
  auto& buf = self_->wr_buf(hdl_);
  if (job.stored.empty())
    append_unlink(buf, key_prefix_, job.key);
  else
    append_set(buf, key_prefix_, job.key, job.stored,
               commands::ttl_ms(job.ttl));
  auto announce_as = job.announce_as;
  std::string announced;
  if (announce_as != 0)
    announced = job.key;
  waiting x;
  x.what = waiting::kind::write;
  x.writer = rp;
  x.write = std::move(job);
  enqueue(std::move(x));
  if (announce_as != 0)
    announce_later(announce_as, std::move(announced));
  written();
  return rp;
}

void redis_connection_state::announce_later(uint64_t node, std::string key) {
  // Several writes in one round of this mailbox are published in one
  // message: under load one PUBLISH per write cost Redis a command and
  // every subscribed node (this one too) a message to read.
  if (node != announce_as_
      || coherence::message_full(unannounced_.size(), unannounced_bytes_,
                                 key.size()))
    announce();
  announce_as_ = node;
  unannounced_bytes_ += key.size();
  unannounced_.push_back(std::move(key));
  if (self_->mailbox().empty()
      || unannounced_.size() >= coherence::max_keys_per_message) {
    announce();
    return;
  }
  if (!announce_due_) {
    // Behind everything waiting now, so the round ends before it. Without
    // a sender, like the timers: a broker that quit never empties its
    // mailbox in CAF 0.17, and a message from itself would keep it alive.
    announce_due_ = true;
    caf::anon_send(caf::actor_cast<caf::actor>(self_), announce_atom::value);
  }
}

void redis_connection_state::on_announce() {
  announce_due_ = false;
  if (unannounced_.empty())
    return;
  announce();
  written();
}

void redis_connection_state::announce() {
  if (unannounced_.empty())
    return;
  // Written behind the writes it names, so Redis runs it after them.
  append_publish(self_->wr_buf(hdl_), channel_,
                 coherence::encode_keys(announce_as_, unannounced_));
  unannounced_.clear();
  unannounced_bytes_ = 0;
  ++batch_;
  wrote_ignored();
}

void redis_connection_state::ask_next() {
  // Redis Cluster: the next command is for a slot this node is importing;
  // the reply to ASKING is dropped.
  write(std::vector<std::string>{"ASKING"});
  ++batch_;
  wrote_ignored();
}

void redis_connection_state::wrote_ignored() {
  ++ignored_;
  auto& x = pending_.emplace_back();
  x.what = waiting::kind::ignored;
  x.sent = self_->clock().now();
}

void redis_connection_state::schedule_sweep() {
  if (sweep_scheduled_)
    return;
  sweep_scheduled_ = true;
  // Without a sender, like the handshake timer: a broker that quit never
  // empties its mailbox in CAF 0.17.
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self_), sweep_interval_,
                         sweep_atom::value);
}

void redis_connection_state::on_sweep() {
  sweep_scheduled_ = false;
  relay_.flush();
  if (pending_.empty())
    return;
  // Replies come in order: while the oldest command waits, nothing came.
  auto waited = self_->clock().now() - pending_.front().sent;
  if (stall_timeout_ > caf::timespan{0} && waited >= stall_timeout_) {
    on_lost(make_error(
      errc::redis_unavailable,
      fmt::format("no reply from {} for {} ms with {} commands waiting",
                  address_,
                  std::chrono::duration_cast<std::chrono::milliseconds>(waited)
                    .count(),
                  pending_.size())));
    return;
  }
  if (jobs_ == 0) {
    schedule_sweep();
    return;
  }
  // Requests carry different deadlines, so every waiting one is looked at;
  // there are at most max_pending of them, once per tick.
  auto now = self_->clock().now().time_since_epoch();
  pending_.for_each([&](waiting& x) {
    if (x.what == waiting::kind::get && now >= x.job.redis_deadline) {
      x.what = waiting::kind::handed_over_get;
      --jobs_;
      relay_.hand_over(x.client, x.job, make_error(errc::timeout));
    } else if (x.what == waiting::kind::write
               && now >= x.write.redis_deadline) {
      // Still in the pipeline: the key stays bound to this connection until
      // Redis answers (released), so later writes of it queue behind.
      x.what = waiting::kind::handed_over_write;
      --jobs_;
      auto job = x.write;
      relay_.hand_over(x.writer, job, make_error(errc::timeout));
    }
  });
  schedule_sweep();
}

void redis_connection_state::schedule_idle_check() {
  if (stall_timeout_ <= caf::timespan{0})
    return;
  // Without a sender, like the other timers.
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self_), stall_timeout_,
                         ping_atom::value);
}

void redis_connection_state::on_idle_check() {
  // A subscribed connection is left alone: a Redis that blocks for a while
  // (a slow script, a fork) would cost every node its fallback at the
  // resubscription, which a check must not add.
  if (lost_ || subscriber_)
    return;
  if (!wrote_since_check_ && pending_.empty()) {
    // Not counted as a pipeline batch: the metric is about requests.
    write(std::vector<std::string>{"PING"});
    wrote_ignored();
    written();
  }
  wrote_since_check_ = false;
  schedule_idle_check();
}

bool redis_connection_state::on_report_asked() {
  relay_.flush();
  return true;
}

void redis_connection_state::fail_pending(const caf::error& reason) {
  relay_.flush();
  // Writes whose outcome is unknown go back to the cache, whose replay
  // publishes them once Redis takes them.
  unannounced_.clear();
  unannounced_bytes_ = 0;
  pending_.for_each([&](waiting& x) {
    switch (x.what) {
      case waiting::kind::command:
        x.reply.deliver(reason);
        break;
      case waiting::kind::get:
        relay_.hand_over(x.client, x.job, reason);
        break;
      case waiting::kind::write:
        relay_.hand_over(x.writer, x.write, reason);
        break;
      case waiting::kind::handed_over_get:
      case waiting::kind::ignored:
        break;
      case waiting::kind::handed_over_write:
        relay_.released(x.write);
        break;
    }
  });
  pending_.clear();
  jobs_ = 0;
  ignored_ = 0;
  relay_.flush();
}

void redis_connection_state::count_batch() {
  // While a write is under way, CAF keeps what we add in the buffer and sends
  // it all when the socket is writable again: an empty buffer means the
  // commands written since the last batch left together.
  if (batch_ > 0 && self_->wr_buf(hdl_).empty()) {
    batch_sizes_.record(batch_, batch_bounds);
    batch_ = 0;
  }
}

bucket_histogram redis_connection_state::take_batch_sizes() {
  count_batch();
  return batch_sizes_.take();
}

void redis_connection_state::on_data(const std::vector<char>& buf) {
  // Replies arrive between two rounds of the mailbox; with a bounded
  // `scheduler.max-throughput` a round can end before its announce_atom.
  // Published first, no write is answered before its PUBLISH is written,
  // and what fail_pending drops is only ever unanswered writes.
  if (!unannounced_.empty()) {
    announce();
    written();
  }
  reader_.feed(buf.data(), buf.size());
  resp_value reply;
  for (;;) {
    switch (reader_.next(reply)) {
      case resp_reader::status::need_more:
        // The answers leave now, the report of what was served at the next
        // tick.
        relay_.end_read(false);
        if (relay_.has_batch())
          schedule_sweep();
        return;
      case resp_reader::status::protocol_error:
        relay_.end_read(true);
        on_lost(make_error(errc::redis_unavailable,
                           fmt::format("protocol error: {}",
                                       reader_.error_text())));
        return;
      case resp_reader::status::reply:
        if (!handshake_.empty()) {
          on_handshake_reply(reply);
        } else if (subscriber_ && is_pubsub_message(reply)) {
          // This node's own writes need no invalidation.
          if (own_node_ != 0
              && coherence::sent_by(reply.elements[2].str, own_node_)) {
            reply = resp_value{};
            break;
          }
          self_->send(subscriber_, push_atom::value,
                      std::move(reply.elements[1].str),
                      std::move(reply.elements[2].str));
        } else if (follow_failover_ && is_readonly(reply)) {
          // A failover demoted this server. What is queued here goes back
          // to the cache as lost (this command was refused, so resending it
          // is safe), and the next connect asks the Sentinels again.
          self_->send(supervisor_, demoted_atom::value, address_);
          follow_failover(fmt::format("{} became a replica (READONLY); "
                                      "following the failover",
                                      address_));
          return;
        } else if (!pending_.empty()) {
          auto& x = pending_.front();
          switch (x.what) {
            case waiting::kind::command:
              x.reply.deliver(std::move(reply));
              break;
            case waiting::kind::get:
              --jobs_;
              relay_.complete(x.client, x.job, reply, x.sent);
              break;
            case waiting::kind::write:
              --jobs_;
              relay_.complete(x.writer, x.write, reply, x.sent);
              break;
            case waiting::kind::handed_over_get:
              break;
            case waiting::kind::ignored:
              --ignored_;
              break;
            case waiting::kind::handed_over_write:
              relay_.released(x.write);
              break;
          }
          pending_.pop_front();
        }
        reply = resp_value{};
        break;
    }
  }
}

void redis_connection_state::on_failover(const std::string& host,
                                         uint16_t port) {
  auto primary = address_of(host_port{host, port});
  if (!follow_failover_ || lost_ || primary == address_)
    return;
  follow_failover(fmt::format("the Sentinels moved the master from {} to {}",
                              address_, primary));
}

void redis_connection_state::on_demoted(const std::string& address) {
  if (!follow_failover_ || lost_ || address != address_)
    return;
  follow_failover(fmt::format("{} became a replica (READONLY on another "
                              "connection); following the failover",
                              address_));
}

void redis_connection_state::follow_failover(std::string why) {
  // Answers prepared in this read leave first; what is queued goes back to
  // the cache as lost, and the next connect asks the Sentinels again.
  relay_.end_read(true);
  on_lost(make_error(errc::redis_unavailable, std::move(why)));
}

void redis_connection_state::on_lost(caf::error reason) {
  if (lost_)
    return;
  if (!handshake_.empty()) {
    on_closed(std::move(reason));
    return;
  }
  lost_ = reason;
  fail_pending(reason);
  self_->close_all();
  self_->send(supervisor_, lost_atom::value, slot_, attempt_, reason);
}

void redis_connection_state::on_supervisor_down() {
  if (handshake_.empty() || lost_) {
    on_closed(make_error(errc::shutting_down));
    return;
  }
  // Still in its handshake, this broker may have just started: closed before
  // the multiplexer handled its socket's first events, CAF 0.17 keeps the
  // scribe and its descriptor (LeakSanitizer, tests/connection.test.cpp at
  // shutdown). A moment later the close is clean.
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self_),
                         std::chrono::milliseconds(10), release_atom::value);
}

void redis_connection_state::on_released() {
  on_closed(lost_ ? lost_ : make_error(errc::shutting_down));
}

void redis_connection_state::on_closed(caf::error reason) {
  fail_pending(reason);
  if (batch_ > 0)
    batch_sizes_.record(batch_, batch_bounds);
  batch_ = 0;
  if (!batch_sizes_.counts.empty())
    self_->send(supervisor_, batch_sizes_atom::value, batch_sizes_.take());
  // Closes the socket first when the connection itself is still open (the
  // supervisor went away): a broker that quits with an open scribe leaks it.
  self_->close_all();
  self_->quit(std::move(reason));
}

void redis_connection_state::write(const std::vector<std::string>& argv) {
  scratch_.clear();
  append_command(scratch_, argv);
  auto& buf = self_->wr_buf(hdl_);
  buf.insert(buf.end(), scratch_.begin(), scratch_.end());
}

caf::behavior
redis_connection(caf::io::stateful_broker<redis_connection_state>* self,
                 caf::io::connection_handle hdl, caf::actor supervisor,
                 uint32_t slot, uint64_t attempt, redis_endpoint endpoint,
                 uint32_t max_pending, caf::timespan handshake_timeout,
                 caf::timespan stall_timeout, cache_internal_actor cache,
                 std::string key_prefix, caf::timespan sweep_interval,
                 caf::timespan mirror_refresh) {
  self->state.init(hdl, std::move(supervisor), slot, attempt, endpoint,
                   max_pending, handshake_timeout, stall_timeout,
                   std::move(cache), std::move(key_prefix), sweep_interval,
                   mirror_refresh);
  // The supervisor went away (it is monitored in init). CAF 0.17 hands down
  // messages to this handler only, never to the behavior below: without it
  // a connection that finished connecting after its supervisor quit stayed
  // alive, and the actor system never shut down.
  self->set_down_handler(
    [=](const caf::down_msg&) { self->state.on_supervisor_down(); });
  return {
    [=](cmd_atom, const std::vector<std::string>& argv) {
      return self->state.on_command(argv);
    },
    [=](get_atom, get_job& job) { return self->state.on_get(job); },
    [=](get_atom, get_batch& batch) { self->state.on_gets(batch); },
    [=](write_atom, write_job& job) { return self->state.on_write(job); },
    [=](announce_atom) { self->state.on_announce(); },
    [=](sweep_atom) { self->state.on_sweep(); },
    [=](ping_atom) { self->state.on_idle_check(); },
    [=](served_atom) { return self->state.on_report_asked(); },
    [=](batch_sizes_atom) { return self->state.take_batch_sizes(); },
    [=](handshake_deadline_atom) { self->state.on_handshake_deadline(); },
    [=](failover_atom, const std::string& host, uint16_t port) {
      self->state.on_failover(host, port);
    },
    [=](demoted_atom, const std::string& address) {
      self->state.on_demoted(address);
    },
    [=](subscribe_atom, caf::actor& subscriber, uint64_t own_node) {
      self->state.on_subscriber(std::move(subscriber), own_node);
    },
    [=](const caf::io::new_data_msg& msg) { self->state.on_data(msg.buf); },
    [=](const caf::io::connection_closed_msg&) {
      self->state.on_lost(
        make_error(errc::redis_unavailable, "connection to Redis lost"));
    },
    [=](release_atom) { self->state.on_released(); },
  };
}

} // namespace cafcache
