// get_or_load: cache-aside with single-flight, on top of the cache actor's
// get and set paths (see actors/cache.hpp).

#include "actors/cache.hpp"

#include "runtime/request_rules.hpp"

#include "messages/errc.hpp"

namespace cafcache {

caf::result<get_result> cache_state::get_or_load(std::string& key,
                                                 loader_actor& loader,
                                                 const set_options& opts) {
  ++stats_.get_or_loads;
  auto err = admit(key);
  if (!err)
    err = check_tags(opts.tags);
  if (!err && !loader)
    err = make_error(errc::load_failed, "get_or_load needs a loader");
  if (err)
    return refuse(metric_op::get_or_load, std::move(err),
                  opts.correlation_id);
  auto waiter = start(operation::kind::get, key, opts.deadline);
  waiter->correlation_id = opts.correlation_id;
  waiter->get_rp = self_->make_response_promise<get_result>();
  auto& f = flights_[key];
  if (f) {
    ++stats_.coalesced;
    waiter->flight = f;
    f->waiters.push_back(waiter);
    return waiter->get_rp;
  }
  f = std::make_shared<load_flight>();
  f->key = key;
  f->loader = std::move(loader);
  f->ttl = opts.ttl > caf::timespan{0} ? opts.ttl : cfg_.default_ttl;
  f->soft_ttl = opts.soft_ttl;
  f->tags = opts.tags;
  f->waiters.push_back(waiter);
  waiter->flight = f;
  auto probe = start(operation::kind::get, std::move(key), opts.deadline);
  probe->internal = true;
  probe->flight = f;
  dispatch(probe);
  return waiter->get_rp;
}

void cache_state::on_lookup_done(const flight_ptr& f, get_result r,
                                 const operation& op) {
  if (r.found && op.soft_expired) {
    // Stale-while-revalidate: answer now, refresh once in the background.
    r.stale = true;
    complete(f, r);
    auto now = self_->clock().now();
    auto i = refreshing_.find(f->key);
    // A refresh older than this is presumed lost (a loader that never
    // answers must not stop refreshes for good).
    auto lost_after = 4 * cfg_.request_timeout;
    if (i != refreshing_.end() && now - i->second < lost_after)
      return;
    refreshing_[f->key] = now;
    load(f);
    return;
  }
  if (r.found || op.negative) {
    complete(f, r);
    return;
  }
  load(f);
}

void cache_state::load(const flight_ptr& f) {
  ++stats_.loads;
  self_->request(f->loader, caf::infinite, load_atom::value, f->key)
    .then(
      [this, f](load_result& loaded) {
        refreshing_.erase(f->key);
        if (!loaded.found) {
          if (cfg_.negative_ttl > caf::timespan{0}) {
            store_loaded(*f, negative_envelope(), cfg_.negative_ttl);
          } else if (f->waiters.empty()) {
            // A refresh learned that the value is gone: drop it.
            auto op = start(operation::kind::invalidate, f->key,
                            caf::timespan{0});
            op->internal = true;
            dispatch(op);
          }
          complete(f, get_result{false, {}, tier::loader, false});
          return;
        }
        if (!body_is_valid(loaded.value.codec, loaded.value.data)) {
          complete(f, make_error(errc::decode_error,
                                 "the loader's value is not valid "
                                   + std::string{to_string(loaded.value.codec)}));
          return;
        }
        // An oversized value still answers the callers; it is just not kept.
        if (loaded.value.data.size() <= cfg_.max_value_bytes) {
          auto stored = f->soft_ttl > caf::timespan{0}
                          ? encode_envelope(loaded.value,
                                            wall_now()
                                              + f->soft_ttl)
                          : encode_envelope(loaded.value);
          store_loaded(*f, std::move(stored), f->ttl);
        }
        complete(f, get_result{true, std::move(loaded.value), tier::loader,
                               false});
      },
      [this, f](caf::error& err) {
        // A failed refresh keeps serving the old value until the hard TTL.
        refreshing_.erase(f->key);
        complete(f, make_error(errc::load_failed, to_sentence(err)));
      });
}

void cache_state::store_loaded(const load_flight& f, std::string stored,
                               caf::timespan ttl) {
  auto op = start(operation::kind::set, f.key, caf::timespan{0});
  op->internal = true;
  op->ttl = jittered(ttl);
  op->tags = f.tags;
  op->stored = encode_tagged(std::move(stored), op->tags);
  dispatch(op);
}

void cache_state::check_soft_expiry(operation& op,
                                    std::string_view stored) const {
  if (auto soft = soft_expiry_of(stored))
    op.soft_expired = wall_now() >= *soft;
}

std::chrono::system_clock::time_point cache_state::wall_now() const {
  return wall_base_
         + std::chrono::duration_cast<std::chrono::system_clock::duration>(
           self_->clock().now() - clock_base_);
}

template <class Answer>
void cache_state::complete(const flight_ptr& f, const Answer& x) {
  auto waiters = std::move(f->waiters);
  f->waiters.clear();
  end_flight(f);
  for (auto& waiter : waiters)
    if (!waiter->settled)
      answer(waiter, x);
}

void cache_state::end_flight(const flight_ptr& f) {
  for (auto& waiter : f->waiters)
    if (!waiter->settled)
      return;
  // Waiters point to their flight: drop the way back, or neither is freed.
  f->waiters.clear();
  auto i = flights_.find(f->key);
  if (i != flights_.end() && i->second == f)
    flights_.erase(i);
}

} // namespace cafcache
