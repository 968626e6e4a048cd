// The cache actor's writes: set, invalidate, invalidate_tag, and what a
// write does when Redis cannot take it (see actors/cache.hpp).

#include "actors/cache.hpp"

#include "runtime/request_rules.hpp"

#include <algorithm>
#include <random>

#include "messages/errc.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

// -- set and invalidate -------------------------------------------------------

caf::result<write_result> cache_state::set(std::string& key,
                                           cache_value& value,
                                           const set_options& opts) {
  ++stats_.sets;
  auto err = admit(key);
  if (!err)
    err = check_value(value, cfg_.max_value_bytes);
  if (!err)
    err = check_tags(opts.tags);
  if (err)
    return refuse(metric_op::set, std::move(err), opts.correlation_id);
  auto ttl = jittered(opts.ttl > caf::timespan{0} ? opts.ttl
                                                   : cfg_.default_ttl);
  if (!writable())
    return degraded(metric_op::set, std::move(key),
                    encode_tagged(encode_envelope(value), opts.tags), ttl,
                    opts.correlation_id);
  if (opts.tags.empty() && local_sender()) {
    // The hot path: the key's connection answers the client itself.
    auto now = self_->clock().now();
    auto job = write_job_of(key, encode_envelope(value), ttl, opts.deadline,
                            opts.correlation_id, now);
    if (auto delegated = delegate_write(job, now))
      return *delegated;
    key = std::move(job.key);
  }
  auto op = start(operation::kind::set, std::move(key), opts.deadline);
  op->correlation_id = opts.correlation_id;
  op->write_rp = self_->make_response_promise<write_result>();
  op->ttl = ttl;
  op->tags = opts.tags;
  op->stored = encode_tagged(encode_envelope(value), op->tags);
  dispatch(op);
  return op->write_rp;
}

caf::timespan cache_state::jittered(caf::timespan ttl) {
  if (cfg_.ttl_jitter <= 0.0)
    return ttl;
  std::uniform_real_distribution<double> factor{1.0 - cfg_.ttl_jitter,
                                                1.0 + cfg_.ttl_jitter};
  auto x = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double, caf::timespan::period>(
      static_cast<double>(ttl.count()) * factor(rng_)));
  return std::max<caf::timespan>(x, std::chrono::milliseconds(1));
}

caf::result<write_result>
cache_state::invalidate(std::string& key, const request_options& opts) {
  ++stats_.invalidations;
  if (auto err = admit(key))
    return refuse(metric_op::invalidate, std::move(err), opts.correlation_id);
  if (!writable())
    return degraded(metric_op::invalidate, std::move(key), {},
                    caf::timespan{0}, opts.correlation_id);
  if (local_sender()) {
    auto now = self_->clock().now();
    auto job = write_job_of(key, {}, caf::timespan{0}, opts.deadline,
                            opts.correlation_id, now);
    if (auto delegated = delegate_write(job, now))
      return *delegated;
    key = std::move(job.key);
  }
  auto op = start(operation::kind::invalidate, std::move(key), opts.deadline);
  op->correlation_id = opts.correlation_id;
  op->write_rp = self_->make_response_promise<write_result>();
  dispatch(op);
  return op->write_rp;
}

caf::result<write_result>
cache_state::invalidate_tag(std::string& tag, const request_options& opts) {
  ++stats_.tag_invalidations;
  if (auto err = tag_refusal(tag))
    return refuse(metric_op::invalidate_tag, std::move(err),
                  opts.correlation_id);
  auto op = start(operation::kind::invalidate_tag, std::move(tag),
                  opts.deadline);
  op->correlation_id = opts.correlation_id;
  op->write_rp = self_->make_response_promise<write_result>();
  dispatch(op);
  return op->write_rp;
}

void cache_state::invalidate_tag(
  std::string& tag, const request_options& opts,
  std::function<void(caf::expected<write_result>)> sink) {
  ++stats_.tag_invalidations;
  if (auto err = tag_refusal(tag)) {
    sink(refuse(metric_op::invalidate_tag, std::move(err),
                opts.correlation_id));
    return;
  }
  auto op = start(operation::kind::invalidate_tag, std::move(tag),
                  opts.deadline);
  op->correlation_id = opts.correlation_id;
  op->on_write = std::move(sink);
  dispatch(op);
}

caf::error cache_state::tag_refusal(const std::string& tag) const {
  if (stopping_)
    return make_error(errc::shutting_down);
  if (auto bad = check_tag(tag))
    return bad;
  if (auth_broken())
    return conn_error_;
  return caf::none;
}

write_result cache_state::degraded(metric_op which, std::string key,
                                   std::string stored, caf::timespan ttl,
                                   const std::string& correlation_id) {
  // Answered now, so nothing of the request outlives this call: an
  // operation would stay allocated until its deadline's sweep, which
  // under a stream of writes to a fallback-only cache held more memory
  // than the fallback's own bookkeeping.
  degrade_write(std::move(key), std::move(stored), ttl);
  observe(which, metric_outcome::fallback, caf::timespan{0}, correlation_id);
  return write_result{tier::fallback};
}

void cache_state::degrade_tag(std::string tag) {
  ++stats_.degraded_writes;
  ++dirty_since_drain_;
  // Any read reply still under way may carry a tagged value from before.
  guard_.invalidated_all();
  needs_replay_ = true;
  self_->send(fallback_, delete_atom::value, tag_atom::value, std::move(tag),
              true);
  maybe_recover();
}

void cache_state::degrade_write(std::string key, std::string stored,
                                caf::timespan ttl) {
  ++stats_.degraded_writes;
  ++dirty_since_drain_;
  // A read reply still under way carries what Redis held before this write:
  // it must not land in the fallback over it.
  guard_.invalidated(key);
  needs_replay_ = true;
  if (stored.empty())
    self_->send(fallback_, delete_atom::value, std::move(key), true);
  else
    self_->send(fallback_, put_atom::value, std::move(key), std::move(stored),
                ttl, true);
  maybe_recover();
}

} // namespace cafcache
