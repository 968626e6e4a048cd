#include "actors/job_relay.hpp"

#include <caf/send.hpp>

#include "messages/errc.hpp"
#include "runtime/get_reply.hpp"

namespace cafcache {

job_relay::promise_type job_relay::promise_of(caf::local_actor* self,
                                              batched_get& x) {
  // The cache made the promise; answered with the cache as its sender, the
  // answer would also be enqueued in the cache's execution context, which
  // belongs to another thread.
  return {caf::actor_cast<caf::strong_actor_ptr>(self), x.client.source(),
          x.client.stages(), x.client.id()};
}

void job_relay::complete(promise_type& rp, get_job& job, resp_value& reply,
                         time_point sent) {
  auto reading = read_get_reply(reply);
  if (reading.failed) {
    hand_over(rp, job, make_error(errc::redis_error, reply.str));
    return;
  }
  auto now = self_->clock().now();
  auto& a = answers_.emplace_back();
  a.get = std::move(rp);
  a.got = std::move(reading.answer);
  served_request x;
  if (reading.kind == served_kind::hit
      || reading.kind == served_kind::negative) {
    if (memo_.sent_lately(job.key, reply.str, now))
      x.unchanged = true;
    else
      x.stored = std::move(reply.str);
  }
  x.key = std::move(job.key);
  x.correlation_id = std::move(job.correlation_id);
  x.ticket = job.ticket;
  x.kind = reading.kind;
  x.latency = now.time_since_epoch() - job.start;
  x.redis_latency = now - sent;
  batch_.push_back(std::move(x));
}

void job_relay::complete(write_promise& rp, write_job& job, resp_value& reply,
                         time_point sent) {
  // SET answers +OK; UNLINK the number of keys it deleted.
  auto deleting = job.stored.empty();
  auto applied = deleting ? !reply.is_error() : reply.is_ok();
  if (!applied) {
    hand_over(rp, job,
              make_error(errc::redis_error,
                         reply.is_error() ? reply.str
                                          : "unexpected reply to SET"));
    return;
  }
  // What the fallback holds under the key changes with the write.
  memo_.forget(job.key);
  auto now = self_->clock().now();
  auto& a = answers_.emplace_back();
  a.is_write = true;
  a.write = std::move(rp);
  a.wrote = write_result{tier::redis};
  served_request x;
  x.key = std::move(job.key);
  x.stored = std::move(job.stored);
  x.ttl = job.ttl;
  x.correlation_id = std::move(job.correlation_id);
  x.ticket = job.ticket;
  x.kind = deleting ? served_kind::deleted : served_kind::stored;
  x.latency = now.time_since_epoch() - job.start;
  x.redis_latency = now - sent;
  x.slot = job.slot;
  batch_.push_back(std::move(x));
  wrote_ = true;
}

void job_relay::released(write_job& job) {
  served_request x;
  x.key = std::move(job.key);
  x.kind = served_kind::released;
  x.slot = job.slot;
  batch_.push_back(std::move(x));
}

void job_relay::hand_over(promise_type& rp, get_job& job, caf::error reason) {
  rp.delegate(cache_, get_atom::value, std::move(job), std::move(reason),
              caf::actor_cast<caf::actor>(self_));
}

void job_relay::hand_over(write_promise& rp, write_job& job,
                          caf::error reason) {
  memo_.forget(job.key);
  rp.delegate(cache_, write_atom::value, std::move(job), std::move(reason),
              caf::actor_cast<caf::actor>(self_));
}

void job_relay::end_read(bool report) {
  if (wrote_) {
    wrote_ = false;
    flush();
  }
  for (auto& a : answers_) {
    if (a.is_write)
      a.write.deliver(a.wrote);
    else
      a.get.deliver(std::move(a.got));
  }
  answers_.clear();
  if (report || batch_.size() >= max_batch)
    flush();
}

void job_relay::flush() {
  if (batch_.empty())
    return;
  auto size = batch_.size();
  caf::unsafe_send_as(self_, cache_, served_atom::value, std::move(batch_));
  batch_.clear();
  // The next batch is likely as large: one allocation instead of a doubling
  // series, each step a larger block to free.
  batch_.reserve(size);
}

} // namespace cafcache
