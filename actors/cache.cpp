#include "actors/cache.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>

#include "actors/breaker.hpp"
#include "actors/fallback.hpp"
#include "actors/supervisor.hpp"
#include "messages/errc.hpp"
#include "runtime/get_reply.hpp"
#include "runtime/request_rules.hpp"

namespace cafcache {

// -- initialization -----------------------------------------------------------

void cache_state::init(config cfg, uint16_t index,
                       std::function<void(const caf::error&)> stopped) {
  cfg_ = std::move(cfg);
  index_ = index;
  stopped_ = std::move(stopped);
  log_ = logger::named(cfg_.log_level);
  failed_lines_ = log_throttle{cfg_.log_burst};
  refused_lines_ = log_throttle{cfg_.log_burst};
  redis_redacted_ = redacted(cfg_.endpoint());
  rng_.seed(std::random_device{}());
  wall_base_ = std::chrono::system_clock::now();
  clock_base_ = self_->clock().now();
  // Never 0, which means "not published" to a connection (write_job).
  node_id_ = rng_() | 1;
  channel_ = coherence::channel(cfg_.key_prefix);
  coherent_ = cfg_.coherence && cfg_.backend_type() == backend_kind::redis;
  conns_.resize(cfg_.pool_size);
  outbox_.resize(cfg_.pool_size);
  router_ = key_router{cfg_.pool_size};
  recent_ = recent_writes{cfg_.recent_write_window,
                          cfg_.recent_write_max_keys};
  ever_connected_.resize(cfg_.pool_size, false);
  readiness_ = readiness{cfg_.pool_size, coherent_};
  auto self_handle = caf::actor_cast<cache_internal_actor>(self_);
  fallback_ = self_->spawn<caf::linked>(fallback, cfg_, self_handle);
  breaker_ = self_->spawn<caf::linked>(breaker, cfg_, self_handle);
  supervisor_ = self_->spawn<caf::linked>(supervisor, cfg_, self_handle,
                                          breaker_);
}

std::vector<caf::actor_addr> cache_state::own_actors() const {
  return {fallback_.address(), breaker_.address(), supervisor_.address()};
}

// -- request plumbing ---------------------------------------------------------

void cache_state::set_deadlines(time_point start, caf::timespan requested,
                                time_point& deadline,
                                time_point& redis_deadline) const {
  deadline = start
             + (requested > caf::timespan{0} ? requested
                                              : cfg_.request_timeout);
  auto left = deadline - start;
  auto reserve = cfg_.fallback_reserve;
  redis_deadline = start + (left > 2 * reserve ? left - reserve : left / 2);
}

cache_state::op_ptr cache_state::start(operation::kind what, std::string key,
                                       caf::timespan requested) {
  auto op = std::make_shared<operation>();
  op->what = what;
  op->key = std::move(key);
  op->start = self_->clock().now();
  op->ticket = guard_.ticket();
  set_deadlines(op->start, requested, op->deadline, op->redis_deadline);
  ++outstanding_;
  arm(op, op->deadline);
  return op;
}

void cache_state::arm(const op_ptr& op, time_point at) {
  deadlines_.push(at, op);
  if (!sweep_scheduled_) {
    sweep_scheduled_ = true;
    self_->delayed_send(self_, cfg_.sweep_interval(), sweep_atom::value,
                        index_);
  }
}

void cache_state::on_sweep() {
  sweep_scheduled_ = false;
  auto now = self_->clock().now();
  if (!resends_.empty())
    resend_due(now);
  deadlines_.expire(now, [&](op_ptr op) { on_expired(op, now); });
  if (!deadlines_.empty()) {
    sweep_scheduled_ = true;
    self_->delayed_send(self_, cfg_.sweep_interval(), sweep_atom::value,
                        index_);
  }
}

void cache_state::on_expired(const op_ptr& op, time_point now) {
  if (op->settled)
    return;
  if (now >= op->deadline) {
    op->in_redis = false;
    answer(op, make_error(errc::timeout));
    return;
  }
  if (op->in_redis && now >= op->redis_deadline && op->refusal) {
    // The key's deletion behind a refused write did not come back in time.
    op->in_redis = false;
    degrade_write(op->key, {}, op->ttl);
    answer(op, op->refusal);
    return;
  }
  if (op->in_redis && now >= op->redis_deadline) {
    op->in_redis = false;
    // Waiting out TRYAGAIN or CLUSTERDOWN is no failure of the node.
    if (!op->waiting)
      on_redis_failure(make_error(errc::timeout));
    op->waiting = false;
    redis_failed(op);
  }
}

void cache_state::answer(const op_ptr& op, get_result x) {
  op->settled = true;
  observe(*op, x.found ? metric_outcome::hit : metric_outcome::miss);
  if (op->internal)
    on_lookup_done(op->flight, std::move(x), *op);
  else if (op->on_get)
    op->on_get(std::move(x));
  else
    op->get_rp.deliver(std::move(x));
  done_one();
}

void cache_state::answer(const op_ptr& op, write_result x) {
  op->settled = true;
  observe(*op, x.target == tier::redis ? metric_outcome::redis
                                       : metric_outcome::fallback);
  if (op->on_write)
    op->on_write(x);
  else if (!op->internal)
    op->write_rp.deliver(x);
  done_one();
}

void cache_state::answer(const op_ptr& op, caf::error err) {
  op->settled = true;
  if (!op->internal) {
    count_error(err);
    warn_request(failed_lines_, "request_failed", metric_of(*op), err,
                 op->correlation_id);
  }
  observe(*op, metric_outcome::error);
  if (op->internal) {
    // A failed lookup is no reason to withhold the loader's value.
    if (op->flight)
      on_lookup_done(op->flight, get_result{}, operation{});
  } else if (op->on_get) {
    op->on_get(std::move(err));
  } else if (op->on_write) {
    op->on_write(std::move(err));
  } else if (op->what == operation::kind::get) {
    op->get_rp.deliver(std::move(err));
  } else {
    op->write_rp.deliver(std::move(err));
  }
  if (op->flight && !op->internal)
    end_flight(op->flight);
  done_one();
}

void cache_state::done_one() {
  done(1);
}

void cache_state::done(size_t n) {
  outstanding_ -= n;
  check_stopped();
}

void cache_state::check_stopped() {
  if (stopped())
    stopped_(stop_reason_);
}

bool cache_state::local_sender() const {
  // A remote client's get stays with this actor: answered from a connection
  // actor, 3 to 34 of 100 answers in flight at SIGTERM never reached the
  // peer (tests/nodes.test.cpp, 1 run in 3), while this actor's answers
  // are drained before the node exits.
  auto& sender = self_->current_sender();
  return !sender || sender->node() == self_->node();
}

caf::error cache_state::admit(const std::string& key) {
  if (stopping_)
    return make_error(errc::shutting_down);
  auto err = check_key(key, cfg_.max_key_bytes);
  if (!err && auth_broken())
    err = conn_error_;
  return err;
}

// -- get ----------------------------------------------------------------------

caf::result<get_result> cache_state::get(std::string& key,
                                         const request_options& opts) {
  ++stats_.gets;
  if (auto err = admit(key))
    return refuse(metric_op::get, std::move(err), opts.correlation_id);
  if (local_sender()) {
    // The hot path: the key's connection, or the fallback when Redis is not
    // routed for reads, answers the client itself.
    get_job job;
    auto now = self_->clock().now();
    time_point deadline;
    time_point redis_deadline;
    set_deadlines(now, opts.deadline, deadline, redis_deadline);
    job.key = std::move(key);
    job.correlation_id = opts.correlation_id;
    job.ticket = guard_.ticket();
    job.start = now.time_since_epoch();
    job.deadline = deadline.time_since_epoch();
    job.redis_deadline = redis_deadline.time_since_epoch();
    if (!readable())
      return delegate_to_fallback(job, false);
    if (auto delegated = delegate_get(job, now))
      return *delegated;
    key = std::move(job.key);
  }
  auto op = start(operation::kind::get, std::move(key), opts.deadline);
  op->correlation_id = opts.correlation_id;
  op->get_rp = self_->make_response_promise<get_result>();
  dispatch(op);
  return op->get_rp;
}

void cache_state::get_reply(const op_ptr& op, resp_value& reply) {
  auto reading = read_get_reply(reply);
  if (reading.failed) {
    on_redis_failure(make_error(errc::redis_error, reply.str));
    fallback_get(op, true);
    return;
  }
  on_redis_success();
  count_served(reading.kind);
  op->negative = reading.kind == served_kind::negative;
  if (reading.kind == served_kind::hit)
    check_soft_expiry(*op, reply.str);
  if (may_mirror(*op))
    self_->send(fallback_, put_atom::value,
                std::vector<mirror_entry>{
                  mirror_of(std::move(op->key), reading.kind,
                            std::move(reply.str))});
  answer(op, std::move(reading.answer));
}

void cache_state::count_served(served_kind kind) {
  switch (kind) {
    case served_kind::hit:
      ++stats_.hits_redis;
      return;
    case served_kind::undecodable:
      ++stats_.decode_errors;
      break;
    case served_kind::negative:
    case served_kind::nil:
      break;
    case served_kind::fallback_hit:
      ++stats_.hits_fallback;
      ++stats_.stale_served;
      return;
    case served_kind::fallback_miss:
      break;
    case served_kind::stored:
    case served_kind::deleted:
    case served_kind::released:
      // Writes (on_written).
      return;
  }
  ++stats_.misses;
}

mirror_entry cache_state::mirror_of(std::string key, served_kind kind,
                                    std::string stored) const {
  // What Redis holds is what the fallback may keep: a value or the
  // negative marker for a while, and nothing when Redis holds nothing
  // usable.
  mirror_entry out;
  out.key = std::move(key);
  switch (kind) {
    case served_kind::hit:
      out.stored = std::move(stored);
      out.ttl = cfg_.fallback_read_ttl;
      break;
    case served_kind::negative:
      out.stored = std::move(stored);
      out.ttl = std::min(cfg_.fallback_read_ttl, cfg_.negative_ttl);
      break;
    case served_kind::nil:
    case served_kind::undecodable:
    // Writes update the fallback in on_written.
    case served_kind::fallback_hit:
    case served_kind::fallback_miss:
    case served_kind::stored:
    case served_kind::deleted:
    case served_kind::released:
      break;
  }
  return out;
}

void cache_state::fallback_get(const op_ptr& op, bool redis_failed) {
  self_->request(fallback_, caf::infinite, get_atom::value, op->key)
    .then(
      [this, op, redis_failed](std::vector<std::string>& found) {
        if (op->settled)
          return;
        std::optional<std::string_view> stored;
        if (!found.empty()) {
          stored = found.front();
          op->negative = is_negative_envelope(found.front());
        }
        auto reading = read_fallback_entry(stored, redis_failed);
        if (reading.answer.found)
          check_soft_expiry(*op, found.front());
        count_served(reading.kind);
        answer(op, std::move(reading.answer));
      },
      [this, op](caf::error&) {
        if (!op->settled)
          answer(op, make_error(errc::timeout));
      });
}

void cache_state::on_redis_failure(const caf::error& err) {
  // A connection shedding this cache's own backlog (max-pending) is no
  // failure of Redis: counted, a burst of requests on a healthy Redis would
  // open the breaker and send every read to the fallback for the whole open
  // period. The shed request is served like a failed one all the same.
  if (is(err, errc::overloaded)) {
    ++stats_.shed_requests;
    return;
  }
  ++stats_.redis_failures;
  conn_error_ = is(err, errc::auth_failed) ? err : conn_error_;
  failure_run_ = true;
  // The first failure goes to the breaker at once; the ones after it in
  // the same window (one sweep interval) in one report when it ends, so a
  // storm of failed requests costs the breaker a message per window.
  ++failures_unsent_;
  if (!reporting_window_) {
    reporting_window_ = true;
    report_failures(false);
    self_->delayed_send(self_, cfg_.sweep_interval(), report_atom::value,
                      index_);
  }
}

void cache_state::on_redis_success() {
  // Successes only matter to the breaker when they end a run of failures;
  // reporting every one would double the messages on the hot path.
  if (!failure_run_)
    return;
  failure_run_ = false;
  report_failures(true);
}

void cache_state::on_report_window() {
  if (failures_unsent_ == 0) {
    reporting_window_ = false;
    return;
  }
  report_failures(false);
  self_->delayed_send(self_, cfg_.sweep_interval(), report_atom::value,
                      index_);
}

void cache_state::report_failures(bool then_success) {
  auto n = static_cast<uint32_t>(
    std::min<uint64_t>(failures_unsent_, std::numeric_limits<uint32_t>::max()));
  failures_unsent_ = 0;
  self_->send(breaker_, outcome_atom::value, n, then_success);
}

void cache_state::stop(const caf::error& reason) {
  if (stopping_)
    return;
  stopping_ = true;
  stop_reason_ = reason;
  // Every outstanding request ends by its deadline, also one that reaches
  // this node cache later (a redirect); this is a safety net.
  self_->delayed_send(self_, cfg_.request_timeout * 4, quit_atom::value,
                      index_);
  check_stopped();
}

void cache_state::on_quit_timer() {
  gave_up_ = true;
  stopped_(stop_reason_);
}

void cache_state::on_recover_timer() {
  // While stopping, outstanding requests end by their deadlines; a replay
  // would only delay the quit.
  if (!stopping_)
    maybe_recover();
}

} // namespace cafcache
