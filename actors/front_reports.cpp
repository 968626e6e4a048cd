// The cache actor's reports: health, stats and metrics folded over the node
// caches of a Redis Cluster, and readiness (see actors/front.hpp).

#include "actors/front.hpp"

#include <algorithm>
#include <memory>
#include <type_traits>

#include <fmt/format.h>

#include "messages/errc.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/report_merge.hpp"

namespace cafcache {

// -- reports ------------------------------------------------------------------

std::vector<size_t> front_state::all_nodes() const {
  std::vector<size_t> result(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i)
    result[i] = i;
  return result;
}

std::vector<size_t> front_state::serving_nodes() const {
  // From the table itself: no count to keep in step with it.
  std::vector<bool> serving(nodes_.size(), false);
  for (auto x : owner_)
    serving[x] = true;
  std::vector<size_t> result;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (serving[i])
      result.push_back(i);
  return result;
}

namespace {

/// The status of one node from its own report (`last_error` only in
/// health).
template <class Report>
node_status status_of(const std::string& name, uint32_t slots,
                      const Report& x) {
  node_status out{name,      slots,      x.healthy,
                  x.connected, x.breaker, std::string{},
                  x.stats.fallback_entries, x.stats.dirty_keys};
  if constexpr (std::is_same_v<Report, health_report>)
    out.last_error = x.last_error;
  return out;
}

/// Folds the reports of several node caches into one answer; health and
/// metrics list the nodes in the order of their names.
template <class Report>
struct gather_state {
  Report total;
  size_t left = 0;
  caf::typed_response_promise<Report> rp;

  void one_done() {
    if (--left > 0)
      return;
    if constexpr (!std::is_same_v<Report, stats_report>)
      std::sort(total.nodes.begin(), total.nodes.end(),
                [](const node_status& x, const node_status& y) {
                  return x.node < y.node;
                });
    rp.deliver(std::move(total));
  }
};

} // namespace

std::vector<uint32_t> front_state::slot_counts() const {
  std::vector<uint32_t> result(nodes_.size(), 0);
  for (auto x : owner_)
    ++result[x];
  return result;
}

template <class Report, class Atom>
caf::result<Report> front_state::forward(Atom atom) {
  // Asked of the one node cache like the parts of a Cluster's report, so a
  // shutdown right behind it still answers it.
  auto rp = self_->template make_response_promise<Report>();
  ++asked_;
  self_->request(handle(), answer_slack, atom, uint16_t{0})
    .then(
      [this, rp](Report& x) mutable {
        rp.deliver(std::move(x));
        answered();
      },
      [this, rp](caf::error& err) mutable {
        rp.deliver(std::move(err));
        answered();
      });
  return rp;
}

caf::result<health_report> front_state::health() {
  if (!clustered_)
    return forward<health_report>(health_atom::value);
  // Every node is listed; only those that serve slots decide the flags.
  auto nodes = all_nodes();
  auto slots = slot_counts();
  auto state = std::make_shared<gather_state<health_report>>();
  state->total = empty_health();
  state->total.redis = redis_redacted_;
  state->left = nodes.size();
  state->rp = self_->make_response_promise<health_report>();
  if (!mapped_) {
    state->total.healthy = false;
    state->total.last_error
      = fetch_error_ ? log_text(fetch_error_)
                     : "the slot map of the Redis Cluster is not known yet";
  } else if (uncovered_ > 0) {
    state->total.healthy = false;
    state->total.last_error
      = fmt::format("the slot map of the Redis Cluster gives {} of {} slots "
                    "to no primary",
                    uncovered_, cluster_slot_count);
  }
  for (auto index : nodes) {
    auto name = nodes_[index].name;
    auto served = slots[index];
    auto add = [state, name, served](health_report& x) {
      if (served > 0)
        merge_into(state->total, x, name);
      state->total.nodes.push_back(status_of(name, served, x));
      state->one_done();
    };
    ++asked_;
    self_->request(handle(), answer_slack, health_atom::value,
                   static_cast<uint16_t>(index))
      .then(
        [this, add](health_report& x) mutable {
          add(x);
          answered();
        },
        [this, add](caf::error& err) mutable {
          health_report x;
          x.last_error = log_text(err);
          add(x);
          answered();
        });
  }
  return state->rp;
}

template <class Report, class Atom>
caf::result<Report> front_state::gather(Atom atom, Report empty) {
  // Every node cache, also those that lost their slots: counters never go
  // backwards after a failover. One that does not answer adds nothing (and
  // makes a metrics report unhealthy).
  auto nodes = all_nodes();
  auto slots = slot_counts();
  auto state = std::make_shared<gather_state<Report>>();
  state->total = std::move(empty);
  state->left = nodes.size();
  state->rp = self_->template make_response_promise<Report>();
  for (auto index : nodes) {
    auto name = nodes_[index].name;
    auto served = slots[index];
    ++asked_;
    self_->request(handle(), answer_slack, atom, static_cast<uint16_t>(index))
      .then(
        [this, state, name, served](Report& x) {
          merge_into(state->total, x);
          if constexpr (std::is_same_v<Report, metrics_report>)
            state->total.nodes.push_back(status_of(name, served, x));
          state->one_done();
          answered();
        },
        [this, state, name, served](caf::error&) {
          if constexpr (std::is_same_v<Report, metrics_report>) {
            state->total.healthy = false;
            state->total.nodes.push_back(
              status_of(name, served, metrics_report{}));
          }
          state->one_done();
          answered();
        });
  }
  return state->rp;
}

caf::result<stats_report> front_state::stats() {
  if (!clustered_)
    return forward<stats_report>(stats_atom::value);
  return gather(stats_atom::value, empty_stats());
}

caf::result<metrics_report> front_state::metrics() {
  if (!clustered_)
    return forward<metrics_report>(metrics_atom::value);
  return gather(metrics_atom::value, empty_metrics());
}

caf::result<bool> front_state::ready() {
  if (!clustered_)
    return nodes_.front().cache->ready();
  if (ready_settled_) {
    if (ready_answer_)
      return *ready_answer_;
    return ready_answer_.error();
  }
  auto rp = self_->make_response_promise<bool>();
  ready_waiters_.push_back(rp);
  return rp;
}

void front_state::settle_ready(caf::expected<bool> answer) {
  if (ready_settled_)
    return;
  // The caches of the map had their first connection attempt: the answer
  // is the first one's, or the first configuration error.
  auto nodes = serving_nodes();
  auto left = std::make_shared<size_t>(nodes.size());
  auto result = std::make_shared<caf::expected<bool>>(std::move(answer));
  auto finish = [this, left, result] {
    if (--*left > 0)
      return;
    ready_settled_ = true;
    ready_answer_ = *result;
    for (auto& rp : ready_waiters_)
      if (ready_answer_)
        rp.deliver(*ready_answer_);
      else
        rp.deliver(ready_answer_.error());
    ready_waiters_.clear();
  };
  for (auto index : nodes) {
    ++asked_;
    self_->request(handle(), cfg_.connect_timeout + answer_slack,
                   ready_atom::value, static_cast<uint16_t>(index))
      .then(
        [this, finish](bool) mutable {
          finish();
          answered();
        },
        [this, finish, result](caf::error& err) mutable {
          if (*result
              && (is(err, errc::auth_failed) || is(err, errc::bad_config)))
            *result = std::move(err);
          finish();
          answered();
        });
  }
}

void front_state::answered() {
  --asked_;
  maybe_quit();
}

} // namespace cafcache
