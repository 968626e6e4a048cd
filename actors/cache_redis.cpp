// The cache actor's Redis tier: which connection a request goes to, sending
// it, sending it again when its connection was lost, and what a reply or a
// refusal means for the fallback (see actors/cache.hpp).

#include "actors/cache.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "messages/errc.hpp"
#include "runtime/cluster_errors.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

namespace {

/// Redis ran out of memory under `maxmemory` with `noeviction`: it still
/// serves reads and deletes, only writes are refused.
bool out_of_memory(const resp_value& r) {
  return r.is_error() && r.str.find("OOM ") != std::string::npos;
}

/// The connection itself is gone (not a reply of Redis, not overload): the
/// request never reached Redis, or Redis closed the connection and will not
/// run anything more from it, so it may be sent again over another one.
bool connection_lost(const caf::error& err) {
  return is(err, errc::redis_unavailable)
         || err == caf::sec::request_receiver_down;
}

} // namespace

// -- routing ------------------------------------------------------------------

bool cache_state::writable() const {
  return route_ == breaker_state::closed && router_.up_count() > 0;
}

bool cache_state::readable() const {
  return writable() && !needs_replay_ && !replaying_;
}

std::optional<size_t> cache_state::route_for(const operation& op) const {
  // Writes reach Redis even while a replay is due: left in this node's
  // fallback, other nodes would keep reading the older value from Redis.
  // Reads wait for the replay, which deletes what may be older in Redis.
  auto routed = op.what == operation::kind::get ? readable() : writable();
  // A deadline this close leaves Redis no time to answer.
  if (!routed
      || op.redis_deadline - self_->clock().now()
           < std::chrono::microseconds(100))
    return std::nullopt;
  return router_.owner(op.key);
}

caf::actor cache_state::any_connection() const {
  // The active one first: the probe checks the connection traffic takes.
  auto active = router_.active();
  if (active < conns_.size() && router_.is_up(active))
    return conns_[active];
  for (size_t slot = 0; slot < conns_.size(); ++slot)
    if (router_.is_up(slot))
      return conns_[slot];
  return nullptr;
}

bool cache_state::never_connected() const {
  return std::none_of(ever_connected_.begin(), ever_connected_.end(),
                      [](bool x) { return x; });
}

bool cache_state::auth_broken() const {
  // Credentials that never worked are a configuration error; credentials
  // that stopped working are an outage like any other (stale-if-error).
  return is(conn_error_, errc::auth_failed) && !any_connection()
         && never_connected();
}

std::string cache_state::redis_key(const std::string& key) const {
  return commands::redis_key(cfg_.key_prefix, key);
}

template <class Job>
std::optional<size_t> cache_state::take_slot(Job& job, bool routed,
                                             time_point now) {
  // A deadline this close leaves Redis no time to answer.
  if (!routed
      || job.redis_deadline - now.time_since_epoch()
           < std::chrono::microseconds(100)
      || job.attempts > conns_.size())
    return std::nullopt;
  auto slot = router_.owner(job.key);
  if (slot) {
    job.slot = static_cast<uint32_t>(*slot);
    ++job.attempts;
    ++outstanding_;
  }
  return slot;
}

std::optional<caf::delegated<get_result>>
cache_state::delegate_get(get_job& job, time_point now) {
  auto slot = take_slot(job, readable(), now);
  if (!slot)
    return std::nullopt;
  collect_get(*slot, job);
  return caf::delegated<get_result>{};
}

void cache_state::collect_get(size_t slot, get_job& job) {
  // Gets are only collected while a flush_atom waits in the mailbox, so
  // with the mailbox empty nothing is collected and this get goes alone.
  if (self_->mailbox().empty()) {
    self_->delegate(conns_[slot], get_atom::value, std::move(job));
    return;
  }
  // Under load a connection gets one message per round of this mailbox,
  // not one per get: the connection actors share CAF's one I/O thread, and
  // each message to a broker that went idle wakes that thread.
  outbox_[slot].push_back({self_->make_response_promise(), std::move(job)});
  if (!flush_due_) {
    // Behind everything waiting now, so the round ends before it.
    flush_due_ = true;
    self_->send(self_, flush_atom::value, index_);
  }
}

void cache_state::flush_gets() {
  for (size_t slot = 0; slot < outbox_.size(); ++slot) {
    auto& out = outbox_[slot];
    if (out.empty())
      continue;
    // A slot's connection is only replaced after this ran (on_connection),
    // so conns_[slot] is the live connection the gets were collected for.
    if (out.size() == 1) {
      out.front().client.delegate(conns_[slot], get_atom::value,
                                  std::move(out.front().job));
    } else {
      caf::unsafe_send_as(self_, conns_[slot], get_atom::value, std::move(out));
    }
    out.clear();
  }
}

void cache_state::on_flush() {
  flush_due_ = false;
  flush_gets();
}

caf::delegated<get_result> cache_state::delegate_to_fallback(get_job& job,
                                                            bool redis_failed) {
  job.redis_failed = redis_failed;
  ++outstanding_;
  // Behind every update this actor sent the fallback before.
  self_->delegate(fallback_, get_atom::value, std::move(job));
  return {};
}

caf::result<get_result> cache_state::on_handed_over(get_job& job,
                                                    caf::error& err,
                                                    caf::actor& conn) {
  // The job is the client's request again: it ends here or goes on.
  --outstanding_;
  if (is(err, errc::redis_error))
    if (auto hop = follow_redirect(job, detail_of(err)))
      return *hop;
  auto lost = connection_lost(err);
  if (lost) {
    on_request_failed(job.slot, conn, err);
    // Another connection may serve it; not a failure of Redis.
    if (auto delegated = delegate_get(job, self_->clock().now()))
      return *delegated;
  }
  // A cluster redirect is no failure of this node either.
  if (!(is(err, errc::redis_error) && redirected(detail_of(err))))
    on_redis_failure(err);
  return delegate_to_fallback(job, true);
}

void cache_state::on_served(served_batch& batch) {
  std::vector<mirror_entry> mirror;
  size_t answered = 0;
  for (auto& x : batch) {
    switch (x.kind) {
      case served_kind::released:
        // A write handed back at its deadline has left the pipeline.
        router_.unpin(x.key, x.slot);
        continue;
      case served_kind::stored:
      case served_kind::deleted:
        on_written(x, mirror);
        break;
      case served_kind::fallback_hit:
      case served_kind::fallback_miss:
        // Answered by the fallback: nothing of Redis in it.
        count_served(x.kind);
        observe(metric_op::get,
                x.kind == served_kind::fallback_hit ? metric_outcome::hit
                                                    : metric_outcome::miss,
                x.latency, x.correlation_id);
        ++answered;
        continue;
      default:
        count_served(x.kind);
        observe(metric_op::get,
                x.kind == served_kind::hit ? metric_outcome::hit
                                           : metric_outcome::miss,
                x.latency, x.correlation_id);
        // The client has its answer; the fallback gets the value unless a
        // write of the key was answered since the request came in.
        if (!x.unchanged && guard_.may_mirror(x.key, x.ticket))
          mirror.push_back(mirror_of(std::move(x.key), x.kind,
                                     std::move(x.stored)));
    }
    ++answered;
    record_latency(redis_latency_, x.redis_latency);
    on_redis_success();
  }
  // In Redis' order: the fallback sees a key's writes and reads as Redis
  // applied them.
  if (!mirror.empty())
    self_->send(fallback_, put_atom::value, std::move(mirror));
  done(answered);
}

void cache_state::on_written(served_request& x,
                             std::vector<mirror_entry>& mirror) {
  router_.unpin(x.key, x.slot);
  auto deleted = x.kind == served_kind::deleted;
  observe(deleted ? metric_op::invalidate : metric_op::set,
          metric_outcome::redis, x.latency, x.correlation_id);
  mirror_entry update;
  // Another node's invalidation during the write may have come after it in
  // Redis: then the fallback must not keep the value.
  if (!deleted && guard_.may_mirror(x.key, x.ticket)) {
    update.stored = std::move(x.stored);
    update.ttl = x.ttl;
  }
  guard_.invalidated(x.key);
  update.key = std::move(x.key);
  mirror.push_back(std::move(update));
}

write_job cache_state::write_job_of(std::string& key, std::string stored,
                                    caf::timespan ttl, caf::timespan requested,
                                    const std::string& correlation_id,
                                    time_point now) {
  write_job job;
  time_point deadline;
  time_point redis_deadline;
  set_deadlines(now, requested, deadline, redis_deadline);
  job.key = std::move(key);
  job.stored = std::move(stored);
  job.ttl = ttl;
  job.correlation_id = correlation_id;
  job.ticket = guard_.ticket();
  job.start = now.time_since_epoch();
  job.deadline = deadline.time_since_epoch();
  job.redis_deadline = redis_deadline.time_since_epoch();
  return job;
}

std::optional<caf::delegated<write_result>>
cache_state::delegate_write(write_job& job, time_point now) {
  auto slot = take_slot(job, writable(), now);
  if (!slot)
    return std::nullopt;
  // As on the operation path (to_redis): the recent-write window, and the
  // key bound to this connection until it answered.
  recent_.key(job.key, now);
  router_.pin(job.key, *slot);
  // Published by the connection itself, right behind the write.
  job.announce_as = coherent_mode() ? node_id_ : 0;
  self_->delegate(conns_[*slot], write_atom::value, std::move(job));
  return caf::delegated<write_result>{};
}

cache_state::op_ptr cache_state::write_op_of(write_job& job) {
  auto op = std::make_shared<operation>();
  op->what = job.stored.empty() ? operation::kind::invalidate
                                : operation::kind::set;
  op->key = std::move(job.key);
  op->stored = std::move(job.stored);
  op->ttl = job.ttl;
  op->correlation_id = std::move(job.correlation_id);
  op->ticket = job.ticket;
  op->start = time_point{job.start};
  op->deadline = time_point{job.deadline};
  op->redis_deadline = time_point{job.redis_deadline};
  op->slot = job.slot;
  op->attempts = static_cast<uint8_t>(job.attempts);
  ++outstanding_;
  arm(op, op->deadline);
  op->write_rp = self_->make_response_promise<write_result>();
  return op;
}

caf::result<write_result> cache_state::on_handed_over(write_job& job,
                                                      caf::error& err,
                                                      caf::actor& conn) {
  --outstanding_;
  // Past its Redis deadline the write is still in the pipeline: the key
  // stays bound until the connection reports it released.
  if (!is(err, errc::timeout))
    router_.unpin(job.key, job.slot);
  if (is(err, errc::redis_error))
    if (auto hop = follow_redirect(job, detail_of(err)))
      return *hop;
  if (connection_lost(err)) {
    on_request_failed(job.slot, conn, err);
    if (auto delegated = delegate_write(job, self_->clock().now()))
      return *delegated;
  }
  auto op = write_op_of(job);
  if (is(err, errc::redis_error) && redirected(detail_of(err))) {
    // Not applied: the slot is elsewhere or moving. The write goes where a
    // write Redis could not take goes (see cache_cluster.cpp for why the
    // next owner of the slot cannot serve an older value).
    redis_failed(op);
  } else if (is(err, errc::redis_error)) {
    // Redis answered with an error: the key goes behind the refusal.
    resp_value reply;
    reply.type = resp_value::kind::error;
    reply.str = detail_of(err);
    refused_write(op, reply);
  } else {
    on_redis_failure(err);
    redis_failed(op);
  }
  return op->write_rp;
}

void cache_state::dispatch(const op_ptr& op) {
  if (auto slot = route_for(*op))
    to_redis(op, *slot);
  else if (op->what == operation::kind::get)
    fallback_get(op, false);
  else
    redis_failed(op);
}

std::vector<std::string> cache_state::command_of(const operation& op) const {
  switch (op.what) {
    case operation::kind::get:
      return {"GET", redis_key(op.key)};
    case operation::kind::set:
      return commands::set(cfg_.key_prefix, op.key, op.stored, op.ttl,
                           op.tags,
                           cluster_ ? commands::tag_layout::per_slot
                                    : commands::tag_layout::single);
    case operation::kind::invalidate:
      return {"UNLINK", redis_key(op.key)};
    case operation::kind::invalidate_tag:
      break;
  }
  return commands::invalidate_tag(cfg_.key_prefix, op.key);
}

void cache_state::to_redis(const op_ptr& op, size_t slot) {
  // No CAF timeout here: the deadline queue fails the operation over to the
  // fallback; a reply arriving after that is ignored.
  op->in_redis = true;
  op->slot = static_cast<uint32_t>(slot);
  ++op->attempts;
  if (!op->redis_armed) {
    op->redis_armed = true;
    arm(op, op->redis_deadline);
  }
  auto conn = conns_[slot];
  auto write = op->what != operation::kind::get;
  auto sent = self_->clock().now();
  if (op->what == operation::kind::invalidate_tag)
    recent_.tag(op->key, sent);
  else if (write)
    recent_.key(op->key, sent);
  // The pin holds until the connection answers, even when the deadline
  // passed first: until then the write may still be in its pipeline.
  if (write)
    router_.pin(op->key, slot);
  auto on_answer = [this, op, sent, slot, write](resp_value& reply) {
    record_latency(redis_latency_, self_->clock().now() - sent);
    if (write)
      router_.unpin(op->key, slot);
    if (!op->in_redis)
      return;
    op->in_redis = false;
    on_reply(op, reply);
  };
  auto on_failure = [this, op, slot, write, conn](caf::error& err) {
    if (write)
      router_.unpin(op->key, slot);
    on_request_failed(slot, conn, err);
    if (!op->in_redis)
      return;
    op->in_redis = false;
    // A request another connection took over is no failure of Redis:
    // counted, the requests in flight on one dropped connection alone
    // would open the breaker.
    if (connection_lost(err) && retry(op))
      return;
    on_redis_failure(err);
    redis_failed(op);
  };
  if (cluster_ && op->what == operation::kind::invalidate_tag)
    // Pages and scripts get the time to the answer's deadline, with a
    // margin: the deadline queue answers the client in time regardless.
    sweep_tag(conn, op->key, op->deadline - sent + std::chrono::seconds(1),
              std::move(on_answer), std::move(on_failure));
  else
    self_->request(conn, caf::infinite, cmd_atom::value, command_of(*op))
      .then(std::move(on_answer), std::move(on_failure));
  switch (op->what) {
    case operation::kind::get:
      break;
    case operation::kind::set:
    case operation::kind::invalidate:
      publish(conn, coherence::scope::key, op->key);
      break;
    case operation::kind::invalidate_tag:
      publish(conn, coherence::scope::tag, op->key);
      break;
  }
}

void cache_state::on_request_failed(size_t slot, const caf::actor& conn,
                                    const caf::error& err) {
  // The supervisor's report follows; requests meanwhile go elsewhere.
  if (connection_lost(err) && slot < conns_.size() && conns_[slot] == conn)
    router_.set_up(slot, false);
}

bool cache_state::retry(const op_ptr& op) {
  if (op->attempts > conns_.size())
    return false;
  auto slot = route_for(*op);
  if (!slot)
    return false;
  to_redis(op, *slot);
  return true;
}

void cache_state::on_reply(const op_ptr& op, resp_value& reply) {
  if (reply.is_error() && follow_redirect(op, reply.str))
    return;
  if (reply.is_error() && redirected(reply.str)) {
    if (retry_later(op, reply.str))
      return;
    if (op->what == operation::kind::set && !op->tags.empty()
        && !try_later(reply.str)) {
      // Its slot is elsewhere now, and a tagged set is not handed on: the
      // write was not applied, so it is refused, not acknowledged into a
      // fallback that no longer serves the key.
      self_->send(fallback_, delete_atom::value, op->key, false);
      guard_.invalidated(op->key);
      answer(op, make_error(errc::redis_unavailable,
                            "the key's slot moved to another Redis Cluster "
                            "node during the tagged set, which was not "
                            "applied"));
      return;
    }
    // As a delegated request that met a redirect (on_handed_over).
    redis_failed(op);
    return;
  }
  switch (op->what) {
    case operation::kind::get:
      get_reply(op, reply);
      return;
    case operation::kind::set:
      if (reply.is_ok()) {
        on_redis_success();
        // Another node's invalidation during the write may have come after it
        // in Redis: then the fallback must not keep the value.
        if (may_mirror(*op))
          self_->send(fallback_, put_atom::value, op->key,
                      std::move(op->stored), op->ttl, false);
        else
          self_->send(fallback_, delete_atom::value, op->key, false);
        guard_.invalidated(op->key);
        answer(op, write_result{tier::redis});
        return;
      }
      break;
    case operation::kind::invalidate:
      if (!reply.is_error()) {
        on_redis_success();
        self_->send(fallback_, delete_atom::value, op->key, false);
        guard_.invalidated(op->key);
        answer(op, write_result{tier::redis});
        return;
      }
      break;
    case operation::kind::invalidate_tag:
      if (!reply.is_error()) {
        on_redis_success();
        self_->send(fallback_, delete_atom::value, tag_atom::value, op->key,
                    false);
        guard_.invalidated_all();
        answer(op, write_result{tier::redis});
        return;
      }
      break;
  }
  refused_write(op, reply);
}

void cache_state::refused_write(const op_ptr& op, const resp_value& reply) {
  auto err = make_error(errc::redis_error, reply.str);
  last_refusal_ = err;
  // Out of memory is Redis refusing writes, not Redis failing: it still
  // serves reads, so the breaker keeps routing there.
  if (!out_of_memory(reply))
    on_redis_failure(err);
  if (op->what == operation::kind::set && op->slot < conns_.size()
      && router_.is_up(op->slot)) {
    // The write was not applied: what Redis holds under the key is older
    // than what the caller wanted, so it goes, over the same connection.
    auto slot = op->slot;
    auto conn = conns_[slot];
    router_.pin(op->key, slot);
    op->in_redis = true;
    op->refusal = err;
    self_->request(conn, caf::infinite, cmd_atom::value,
                   std::vector<std::string>{"UNLINK", redis_key(op->key)})
      .then(
        [this, op, slot, err](resp_value& r) {
          router_.unpin(op->key, slot);
          if (!op->in_redis)
            return;
          op->in_redis = false;
          if (r.is_error()) {
            degrade_write(op->key, {}, op->ttl);
          } else {
            self_->send(fallback_, delete_atom::value, op->key, false);
            guard_.invalidated(op->key);
          }
          answer(op, err);
        },
        [this, op, slot, conn, err](caf::error& e) {
          router_.unpin(op->key, slot);
          on_request_failed(slot, conn, e);
          if (!op->in_redis)
            return;
          op->in_redis = false;
          degrade_write(op->key, {}, op->ttl);
          answer(op, err);
        });
    return;
  }
  if (op->what == operation::kind::invalidate_tag)
    degrade_tag(op->key);
  else
    degrade_write(op->key, {}, op->ttl);
  answer(op, err);
}

void cache_state::redis_failed(const op_ptr& op) {
  switch (op->what) {
    case operation::kind::get:
      fallback_get(op, true);
      return;
    case operation::kind::set:
      degrade_write(op->key, std::move(op->stored), op->ttl);
      break;
    case operation::kind::invalidate:
      degrade_write(op->key, {}, op->ttl);
      break;
    case operation::kind::invalidate_tag:
      degrade_tag(op->key);
      break;
  }
  answer(op, write_result{tier::fallback});
}

} // namespace cafcache
