#include "actors/get_relay.hpp"

#include <caf/send.hpp>

#include "messages/errc.hpp"
#include "runtime/get_reply.hpp"

namespace cafcache {

void get_relay::complete(promise_type& rp, get_job& job, resp_value& reply,
                         time_point sent) {
  auto reading = read_get_reply(reply);
  if (reading.failed) {
    hand_over(rp, job, make_error(errc::redis_error, reply.str));
    return;
  }
  auto now = self_->clock().now();
  answers_.emplace_back(std::move(rp), std::move(reading.answer));
  served_get x;
  x.key = std::move(job.key);
  if (reading.kind == served_kind::hit
      || reading.kind == served_kind::negative)
    x.stored = std::move(reply.str);
  x.correlation_id = std::move(job.correlation_id);
  x.ticket = job.ticket;
  x.kind = reading.kind;
  x.latency = now.time_since_epoch() - job.start;
  x.redis_latency = now - sent;
  batch_.push_back(std::move(x));
}

void get_relay::hand_over(promise_type& rp, get_job& job, caf::error reason) {
  rp.delegate(cache_, get_atom::value, std::move(job), std::move(reason),
              caf::actor_cast<caf::actor>(self_));
}

void get_relay::end_read(size_t waiting) {
  // The answers first: once the cache has the report it may finish a
  // shutdown, and the answers must be on their way by then.
  for (auto& [rp, answer] : answers_)
    rp.deliver(std::move(answer));
  answers_.clear();
  if (waiting == 0 || batch_.size() >= max_batch)
    flush();
}

void get_relay::flush() {
  if (batch_.empty())
    return;
  caf::unsafe_send_as(self_, cache_, served_atom::value, std::move(batch_));
  batch_.clear();
}

} // namespace cafcache
