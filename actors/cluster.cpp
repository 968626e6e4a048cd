// The cluster actor: requests routed to the cache of each key's primary,
// reports folded over the node caches, readiness and shutdown (see
// actors/cluster.hpp; the slot map is in actors/cluster_map.cpp).

#include "actors/cluster.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <tuple>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>

#include "actors/bulk_answers.hpp"
#include "actors/cache.hpp"
#include "messages/errc.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/report_merge.hpp"

namespace cafcache {

namespace {

/// Time a node cache has to answer a part of a bulk request or a report:
/// it answers by the request's deadline, so this only guards against a
/// cache that is gone.
constexpr auto answer_slack = std::chrono::seconds(1);

} // namespace

void cluster_state::init(config cfg) {
  cfg_ = std::move(cfg);
  endpoint_ = cfg_.endpoint();
  redis_redacted_ = redacted(endpoint_);
  auto level = log_level::info;
  parse_log_level(cfg_.log_level, level);
  log_ = logger{level};
  failed_lines_ = log_throttle{cfg_.log_burst};
  self_->set_exit_handler([this](caf::exit_msg& msg) { on_exit(msg); });
  self_->set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  // Until a map names the primaries, the first seed's cache takes every
  // slot: requests get answers (from its fallback, if nothing else).
  auto first = node_of(endpoint_.cluster_seeds.front());
  owner_.assign(cluster_slot_count, static_cast<uint16_t>(first));
  std::vector<uint16_t> all(cluster_slot_count);
  for (size_t slot = 0; slot < all.size(); ++slot)
    all[slot] = static_cast<uint16_t>(slot);
  self_->send(nodes_[first].cache, own_atom::value,
              caf::actor_cast<caf::actor>(self_), false, std::move(all));
  last_fetch_ = self_->clock().now();
  fetch();
  self_->delayed_send(self_, cfg_.cluster_refresh_period,
                      map_period_atom::value);
}

size_t cluster_state::node_of(const host_port& address) {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].address.host == address.host
        && nodes_[i].address.port == address.port)
      return i;
  node x;
  x.address = address;
  x.name = address_of(address);
  auto node_cfg = cfg_;
  node_cfg.redis_url = node_url(endpoint_, address);
  std::tie(node_cfg.fallback_max_entries, node_cfg.fallback_max_bytes)
    = fallback_share();
  x.cache = self_->spawn<caf::linked>(cache, std::move(node_cfg));
  // The shutdown waits for every node cache to be gone.
  self_->monitor(x.cache);
  // Before any request: the cache knows whom to tell of redirects.
  self_->send(x.cache, own_atom::value, caf::actor_cast<caf::actor>(self_),
              false, std::vector<uint16_t>{});
  ++alive_;
  log_.write(log_level::info, "cluster_node",
             {{"node", x.name}, {"nodes", std::to_string(nodes_.size() + 1)}});
  nodes_.push_back(std::move(x));
  return nodes_.size() - 1;
}

size_t cluster_state::node_for(const std::string& key) const {
  return owner_[key_slot(cfg_.key_prefix, key)];
}

size_t cluster_state::writer_for(const std::string& key) {
  auto index = node_for(key);
  if (!mapped_ && index == 0)
    written_unmapped_ = true;
  return index;
}

caf::error cluster_state::refusal(bool tagged) const {
  if (stopping_)
    return make_error(errc::shutting_down);
  if (tagged && !hash_tag_closed(cfg_.key_prefix))
    return make_error(errc::invalid_tag,
                      "tags on a Redis Cluster need a key prefix without "
                      "'{', or with a whole hash tag: a value and its tag "
                      "sets would live in different slots");
  return caf::none;
}

caf::timespan cluster_state::answer_limit(caf::timespan deadline) const {
  return (deadline > caf::timespan{0} ? deadline
                                           : cfg_.request_timeout)
         + answer_slack;
}

// -- requests -----------------------------------------------------------------

caf::result<get_result> cluster_state::get(std::string& key,
                                           request_options& opts) {
  if (auto err = refusal(false))
    return err;
  auto& target = nodes_[node_for(key)].cache;
  return self_->delegate(target, get_atom::value, std::move(key),
                         std::move(opts));
}

caf::result<write_result> cluster_state::set(std::string& key,
                                             cache_value& value,
                                             set_options& opts) {
  if (auto err = refusal(!opts.tags.empty()))
    return err;
  auto index = writer_for(key);
  return self_->delegate(nodes_[index].cache, put_atom::value, std::move(key),
                         std::move(value), std::move(opts));
}

caf::result<write_result> cluster_state::invalidate(std::string& key,
                                                    request_options& opts) {
  if (auto err = refusal(false))
    return err;
  auto index = writer_for(key);
  return self_->delegate(nodes_[index].cache, delete_atom::value,
                         std::move(key), std::move(opts));
}

caf::result<write_result>
cluster_state::invalidate_tag(std::string& tag, request_options& opts) {
  if (auto err = refusal(true))
    return err;
  // A tag has sets in the slots of its values, on every primary: each node
  // cache invalidates its own (the sets in its Redis, the entries of its
  // fallback, its dirty-key log when its Redis cannot), and the answer is
  // the first error, or the fallback when any node went there.
  auto nodes = serving_nodes();
  if (nodes.size() == 1)
    return self_->delegate(nodes_[nodes.front()].cache, delete_atom::value,
                           tag_atom::value, std::move(tag), std::move(opts));
  struct join {
    size_t left = 0;
    write_result result{tier::redis};
    caf::error err;
    caf::typed_response_promise<write_result> rp;

    void one_done() {
      if (--left > 0)
        return;
      if (err)
        rp.deliver(std::move(err));
      else
        rp.deliver(result);
    }
  };
  auto state = std::make_shared<join>();
  state->left = nodes.size();
  state->rp = self_->make_response_promise<write_result>();
  for (auto index : nodes)
    self_->request(nodes_[index].cache, answer_limit(opts.deadline), delete_atom::value,
                   tag_atom::value, tag, opts)
      .then(
        [state](write_result& x) {
          if (x.target != tier::redis)
            state->result.target = x.target;
          state->one_done();
        },
        [state](caf::error& err) {
          if (!state->err)
            state->err = std::move(err);
          state->one_done();
        });
  return state->rp;
}

namespace {

const std::string& key_of(const std::string& key) {
  return key;
}

const std::string& key_of(const key_value& entry) {
  return entry.key;
}

} // namespace

template <class Result, class Atom, class Item, class Options>
caf::result<std::vector<Result>>
cluster_state::split(Atom atom, std::vector<Item>& items, Options& opts,
                     bool writes) {
  // Per node, the items and where their answers go.
  std::unordered_map<size_t, std::pair<std::vector<Item>,
                                       std::vector<size_t>>> parts;
  for (size_t i = 0; i < items.size(); ++i) {
    auto index = writes ? writer_for(key_of(items[i]))
                        : node_for(key_of(items[i]));
    auto& part = parts[index];
    part.first.push_back(std::move(items[i]));
    part.second.push_back(i);
  }
  if (parts.size() <= 1) {
    auto index = parts.empty() ? size_t{0} : parts.begin()->first;
    return self_->delegate(nodes_[index].cache, atom,
                           std::move(parts[index].first), std::move(opts));
  }
  auto state = std::make_shared<bulk_answers<Result>>();
  state->results.resize(items.size());
  state->left = parts.size();
  state->rp = self_->template make_response_promise<std::vector<Result>>();
  auto limit = answer_limit(opts.deadline);
  for (auto& [index, part] : parts) {
    auto positions = std::move(part.second);
    self_->request(nodes_[index].cache, limit, atom, std::move(part.first),
                   opts)
      .then(
        [state, positions](std::vector<Result>& results) {
          state->fill(positions, results);
        },
        [state](caf::error& err) { state->fail(std::move(err)); });
  }
  return state->rp;
}

caf::result<std::vector<get_result>>
cluster_state::mget(std::vector<std::string>& keys, request_options& opts) {
  if (auto err = refusal(false))
    return err;
  return split<get_result>(get_atom::value, keys, opts, false);
}

caf::result<std::vector<write_result>>
cluster_state::mset(std::vector<key_value>& entries, set_options& opts) {
  if (auto err = refusal(!opts.tags.empty()))
    return err;
  return split<write_result>(put_atom::value, entries, opts, true);
}

caf::result<get_result> cluster_state::get_or_load(std::string& key,
                                                   loader_actor& loader,
                                                   set_options& opts) {
  if (auto err = refusal(!opts.tags.empty()))
    return err;
  auto index = writer_for(key);
  return self_->delegate(nodes_[index].cache, load_atom::value,
                         std::move(key), std::move(loader), std::move(opts));
}

// -- reports ------------------------------------------------------------------

std::vector<size_t> cluster_state::all_nodes() const {
  std::vector<size_t> result(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i)
    result[i] = i;
  return result;
}

std::vector<size_t> cluster_state::serving_nodes() const {
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

std::vector<uint32_t> cluster_state::slot_counts() const {
  std::vector<uint32_t> result(nodes_.size(), 0);
  for (auto x : owner_)
    ++result[x];
  return result;
}

caf::result<health_report> cluster_state::health() {
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
    self_->request(nodes_[index].cache, answer_slack, health_atom::value)
      .then(add, [add](caf::error& err) mutable {
        health_report x;
        x.last_error = log_text(err);
        add(x);
      });
  }
  return state->rp;
}

template <class Report, class Atom>
caf::result<Report> cluster_state::gather(Atom atom, Report empty) {
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
    self_->request(nodes_[index].cache, answer_slack, atom)
      .then(
        [state, name, served](Report& x) {
          merge_into(state->total, x);
          if constexpr (std::is_same_v<Report, metrics_report>)
            state->total.nodes.push_back(status_of(name, served, x));
          state->one_done();
        },
        [state, name, served](caf::error&) {
          if constexpr (std::is_same_v<Report, metrics_report>) {
            state->total.healthy = false;
            state->total.nodes.push_back(
              status_of(name, served, metrics_report{}));
          }
          state->one_done();
        });
  }
  return state->rp;
}

caf::result<stats_report> cluster_state::stats() {
  return gather(stats_atom::value, empty_stats());
}

caf::result<metrics_report> cluster_state::metrics() {
  return gather(metrics_atom::value, empty_metrics());
}

caf::result<bool> cluster_state::ready() {
  if (ready_settled_) {
    if (ready_answer_)
      return *ready_answer_;
    return ready_answer_.error();
  }
  auto rp = self_->make_response_promise<bool>();
  ready_waiters_.push_back(rp);
  return rp;
}

void cluster_state::settle_ready(caf::expected<bool> answer) {
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
  for (auto index : nodes)
    self_->request(nodes_[index].cache, cfg_.connect_timeout + answer_slack,
                   ready_atom::value)
      .then([finish](bool) mutable { finish(); },
            [finish, result](caf::error& err) mutable {
              if (*result && (is(err, errc::auth_failed)
                              || is(err, errc::bad_config)))
                *result = std::move(err);
              finish();
            });
}

void cluster_state::on_down(const caf::down_msg& msg) {
  if (alive_ > 0)
    --alive_;
  if (stopping_) {
    if (alive_ == 0)
      self_->quit(stop_reason_);
    return;
  }
  // A node cache ended on its own: the module cannot serve its slots.
  self_->quit(msg.reason ? msg.reason : caf::exit_reason::unknown);
}

void cluster_state::on_exit(const caf::exit_msg& msg) {
  // Shutdown: every node cache answers what it holds, then this one ends.
  if (stopping_)
    return;
  stopping_ = true;
  stop_reason_ = msg.reason;
  for (auto& x : nodes_)
    self_->send_exit(x.cache, msg.reason);
  if (alive_ == 0)
    self_->quit(stop_reason_);
}

cluster_actor::behavior_type
cluster(cluster_actor::stateful_pointer<cluster_state> self, config cfg) {
  self->state.init(std::move(cfg));
  return {
    [=](get_atom, std::string& key, request_options& opts) {
      return self->state.get(key, opts);
    },
    [=](put_atom, std::string& key, cache_value& value, set_options& opts) {
      return self->state.set(key, value, opts);
    },
    [=](delete_atom, std::string& key, request_options& opts) {
      return self->state.invalidate(key, opts);
    },
    [=](delete_atom, tag_atom, std::string& tag, request_options& opts) {
      return self->state.invalidate_tag(tag, opts);
    },
    [=](get_atom, std::vector<std::string>& keys, request_options& opts) {
      return self->state.mget(keys, opts);
    },
    [=](put_atom, std::vector<key_value>& entries, set_options& opts) {
      return self->state.mset(entries, opts);
    },
    [=](load_atom, std::string& key, loader_actor& loader,
        set_options& opts) {
      return self->state.get_or_load(key, loader, opts);
    },
    [=](health_atom) { return self->state.health(); },
    [=](stats_atom) { return self->state.stats(); },
    [=](metrics_atom) { return self->state.metrics(); },
    [=](ready_atom) { return self->state.ready(); },
    [=](refresh_atom) { self->state.on_refresh(); },
    [=](map_period_atom) { self->state.on_period(); },
    [=](topology_atom, std::vector<std::string>& hosts,
        std::vector<uint16_t>& ports, std::vector<uint16_t>& owners) {
      self->state.on_topology(hosts, ports, owners);
    },
    [=](topology_atom, caf::error& err) {
      self->state.on_topology_failed(err);
    },
    [=](redirect_atom, get_job& job, std::string& host, uint16_t port,
        bool ask) { return self->state.on_redirect(job, host, port, ask); },
    [=](redirect_atom, write_job& job, std::string& host, uint16_t port,
        bool ask) { return self->state.on_redirect(job, host, port, ask); },
  };
}

} // namespace cafcache
