#include "actors/cluster.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <fmt/format.h>

#include "actors/cache.hpp"
#include "messages/errc.hpp"
#include "runtime/report_merge.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/cluster_topology.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

namespace {

constexpr uint16_t no_owner = 0xFFFF;

/// Time a node cache has to answer a part of a bulk request or a report:
/// it answers by the request's deadline, so this only guards against a
/// cache that is gone.
constexpr auto answer_slack = std::chrono::seconds(1);

caf::error tags_refused() {
  return make_error(errc::invalid_tag,
                    "tags are not supported on a Redis Cluster: a value and "
                    "its tag sets would live in different slots");
}

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
  owner_.assign(cluster_slot_count,
                static_cast<uint16_t>(node_of(endpoint_.cluster_seeds.front())));
  nodes_.front().slots = cluster_slot_count;
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
  return owner_[key_slot(commands::redis_key(cfg_.key_prefix, key))];
}

void cluster_state::note_write(size_t node_index) {
  if (!mapped_ && node_index == 0)
    written_unmapped_ = true;
}

// -- requests -------------------------------------------------------------------

caf::result<get_result> cluster_state::get(std::string& key,
                                           request_options& opts) {
  if (stopping())
    return make_error(errc::shutting_down);
  auto& target = nodes_[node_for(key)].cache;
  return self_->delegate(target, get_atom::value, std::move(key),
                         std::move(opts));
}

caf::result<write_result> cluster_state::set(std::string& key,
                                             cache_value& value,
                                             set_options& opts) {
  if (stopping())
    return make_error(errc::shutting_down);
  if (!opts.tags.empty())
    return tags_refused();
  auto index = node_for(key);
  note_write(index);
  return self_->delegate(nodes_[index].cache, put_atom::value, std::move(key),
                         std::move(value), std::move(opts));
}

caf::result<write_result> cluster_state::invalidate(std::string& key,
                                                    request_options& opts) {
  if (stopping())
    return make_error(errc::shutting_down);
  auto index = node_for(key);
  note_write(index);
  return self_->delegate(nodes_[index].cache, delete_atom::value,
                         std::move(key), std::move(opts));
}

caf::result<write_result> cluster_state::invalidate_tag(std::string&,
                                                        request_options&) {
  if (stopping())
    return make_error(errc::shutting_down);
  return tags_refused();
}

namespace {

/// One answer per key of a bulk request split over node caches, in the
/// order of the request.
template <class T>
struct split_state {
  std::vector<T> results;
  size_t left = 0;
  bool failed = false;
  caf::typed_response_promise<std::vector<T>> rp;

  void fill(const std::vector<size_t>& positions, std::vector<T>& part) {
    if (failed)
      return;
    for (size_t i = 0; i < positions.size() && i < part.size(); ++i)
      results[positions[i]] = std::move(part[i]);
    if (--left == 0)
      rp.deliver(std::move(results));
  }

  void fail(caf::error err) {
    if (failed)
      return;
    failed = true;
    rp.deliver(std::move(err));
  }
};

} // namespace

caf::result<std::vector<get_result>>
cluster_state::mget(std::vector<std::string>& keys, request_options& opts) {
  if (stopping())
    return make_error(errc::shutting_down);
  // Per node, the keys and where their answers go.
  std::unordered_map<size_t, std::pair<std::vector<std::string>,
                                       std::vector<size_t>>> parts;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto& part = parts[node_for(keys[i])];
    part.first.push_back(std::move(keys[i]));
    part.second.push_back(i);
  }
  if (parts.size() <= 1) {
    auto index = parts.empty() ? size_t{0} : parts.begin()->first;
    auto& part = parts[index];
    return self_->delegate(nodes_[index].cache, get_atom::value,
                           std::move(part.first), std::move(opts));
  }
  auto state = std::make_shared<split_state<get_result>>();
  state->results.resize(keys.size());
  state->left = parts.size();
  state->rp = self_->make_response_promise<std::vector<get_result>>();
  auto limit = (opts.deadline > caf::timespan{0} ? opts.deadline
                                                 : cfg_.request_timeout)
               + answer_slack;
  for (auto& [index, part] : parts) {
    auto positions = std::move(part.second);
    self_->request(nodes_[index].cache, limit, get_atom::value,
                   std::move(part.first), opts)
      .then(
        [state, positions](std::vector<get_result>& results) {
          state->fill(positions, results);
        },
        [state](caf::error& err) { state->fail(std::move(err)); });
  }
  return state->rp;
}

caf::result<std::vector<write_result>>
cluster_state::mset(std::vector<key_value>& entries, set_options& opts) {
  if (stopping())
    return make_error(errc::shutting_down);
  if (!opts.tags.empty())
    return tags_refused();
  std::unordered_map<size_t, std::pair<std::vector<key_value>,
                                       std::vector<size_t>>> parts;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto index = node_for(entries[i].key);
    note_write(index);
    auto& part = parts[index];
    part.first.push_back(std::move(entries[i]));
    part.second.push_back(i);
  }
  if (parts.size() <= 1) {
    auto index = parts.empty() ? size_t{0} : parts.begin()->first;
    auto& part = parts[index];
    return self_->delegate(nodes_[index].cache, put_atom::value,
                           std::move(part.first), std::move(opts));
  }
  auto state = std::make_shared<split_state<write_result>>();
  state->results.resize(entries.size());
  state->left = parts.size();
  state->rp = self_->make_response_promise<std::vector<write_result>>();
  auto limit = (opts.deadline > caf::timespan{0} ? opts.deadline
                                                 : cfg_.request_timeout)
               + answer_slack;
  for (auto& [index, part] : parts) {
    auto positions = std::move(part.second);
    self_->request(nodes_[index].cache, limit, put_atom::value,
                   std::move(part.first), opts)
      .then(
        [state, positions](std::vector<write_result>& results) {
          state->fill(positions, results);
        },
        [state](caf::error& err) { state->fail(std::move(err)); });
  }
  return state->rp;
}

caf::result<get_result> cluster_state::get_or_load(std::string& key,
                                                   loader_actor& loader,
                                                   set_options& opts) {
  if (stopping())
    return make_error(errc::shutting_down);
  if (!opts.tags.empty())
    return tags_refused();
  auto index = node_for(key);
  note_write(index);
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
  std::vector<size_t> result;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].slots > 0)
      result.push_back(i);
  return result;
}

namespace {

/// Folds the reports of several node caches into one answer.
template <class Report>
struct gather_state {
  Report total;
  size_t left = 0;
  caf::typed_response_promise<Report> rp;

  void one_done() {
    if (--left == 0)
      rp.deliver(std::move(total));
  }
};

} // namespace

caf::result<health_report> cluster_state::health() {
  auto nodes = serving_nodes();
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
  }
  for (auto index : nodes) {
    auto name = nodes_[index].name;
    self_->request(nodes_[index].cache, answer_slack, health_atom::value)
      .then(
        [state, name](health_report& x) {
          merge_into(state->total, x, name);
          state->one_done();
        },
        [state, name](caf::error& err) {
          health_report x;
          x.last_error = log_text(err);
          merge_into(state->total, x, name);
          state->one_done();
        });
  }
  return state->rp;
}

caf::result<stats_report> cluster_state::stats() {
  // Every node cache, also those that lost their slots: counters never go
  // backwards after a failover.
  auto nodes = all_nodes();
  auto state = std::make_shared<gather_state<stats_report>>();
  state->total = empty_stats();
  state->left = nodes.size();
  state->rp = self_->make_response_promise<stats_report>();
  for (auto index : nodes)
    self_->request(nodes_[index].cache, answer_slack, stats_atom::value)
      .then(
        [state](stats_report& x) {
          merge_into(state->total, x);
          state->one_done();
        },
        [state](caf::error&) { state->one_done(); });
  return state->rp;
}

caf::result<metrics_report> cluster_state::metrics() {
  auto nodes = all_nodes();
  auto state = std::make_shared<gather_state<metrics_report>>();
  state->total = empty_metrics();
  state->left = nodes.size();
  state->rp = self_->make_response_promise<metrics_report>();
  for (auto index : nodes)
    self_->request(nodes_[index].cache, answer_slack, metrics_atom::value)
      .then(
        [state](metrics_report& x) {
          merge_into(state->total, x);
          state->one_done();
        },
        [state](caf::error&) {
          state->total.healthy = false;
          state->one_done();
        });
  return state->rp;
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

// -- slot map -----------------------------------------------------------------

std::vector<host_port> cluster_state::fetch_hosts() const {
  // Replicas first: a primary that fails is the likeliest one not to
  // answer. Each fetch starts one host further, so one that hangs does not
  // delay every fetch.
  std::vector<host_port> hosts = known_hosts_;
  for (auto& seed : endpoint_.cluster_seeds) {
    auto known = std::any_of(hosts.begin(), hosts.end(), [&](auto& x) {
      return x.host == seed.host && x.port == seed.port;
    });
    if (!known)
      hosts.push_back(seed);
  }
  if (!hosts.empty())
    std::rotate(hosts.begin(), hosts.begin() + (fetches_ % hosts.size()),
                hosts.end());
  return hosts;
}

void cluster_state::fetch() {
  fetching_ = true;
  refresh_wanted_ = false;
  // A timer still under way finds this fetch done or running; the next
  // refresh that comes too soon arms a new one.
  refresh_scheduled_ = false;
  ++fetches_;
  last_fetch_ = self_->clock().now();
  auto hosts = fetch_hosts();
  auto user = endpoint_.user;
  auto password = endpoint_.password;
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
    cfg_.connect_timeout);
  auto owner = caf::actor_cast<caf::actor>(self_);
  // hiredis' synchronous client blocks: never on a scheduler thread.
  self_->spawn<caf::detached>([=](caf::event_based_actor* self) {
    auto map = fetch_slot_map(hosts, user, password, timeout);
    if (!map) {
      self->send(owner, topology_atom::value, std::move(map.error()));
      return;
    }
    std::vector<std::string> names;
    std::vector<uint16_t> ports;
    for (auto& x : map->nodes()) {
      names.push_back(x.host);
      ports.push_back(x.port);
    }
    std::vector<uint16_t> owners(cluster_slot_count, no_owner);
    for (uint32_t slot = 0; slot < cluster_slot_count; ++slot)
      if (auto index = map->owner(static_cast<uint16_t>(slot)))
        owners[slot] = static_cast<uint16_t>(*index);
    self->send(owner, topology_atom::value, std::move(names),
               std::move(ports), std::move(owners));
  });
}

void cluster_state::on_refresh() {
  if (stopping_)
    return;
  auto now = self_->clock().now();
  if (fetching_ || now - last_fetch_ < cfg_.cluster_refresh_spacing) {
    // Single-flight and spaced: one more fetch after this one, at most.
    refresh_wanted_ = true;
    if (!fetching_ && !refresh_scheduled_) {
      refresh_scheduled_ = true;
      self_->delayed_send(self_,
                          cfg_.cluster_refresh_spacing - (now - last_fetch_),
                          refresh_atom::value);
    }
    return;
  }
  fetch();
}

void cluster_state::on_period() {
  if (stopping_)
    return;
  if (!fetching_)
    fetch();
  self_->delayed_send(self_, cfg_.cluster_refresh_period,
                      map_period_atom::value);
}

void cluster_state::on_topology(std::vector<std::string>& hosts,
                                std::vector<uint16_t>& ports,
                                std::vector<uint16_t>& owners) {
  fetching_ = false;
  if (stopping_)
    return;
  fetch_error_ = caf::none;
  // The map's primaries come first in `hosts`; the rest are replicas.
  std::vector<uint16_t> index_of(hosts.size(), no_owner);
  std::vector<bool> is_primary(hosts.size(), false);
  for (auto x : owners)
    if (x != no_owner && x < hosts.size())
      is_primary[x] = true;
  known_hosts_.clear();
  for (size_t i = 0; i < hosts.size(); ++i)
    if (!is_primary[i])
      known_hosts_.push_back(host_port{hosts[i], ports[i]});
  for (size_t i = 0; i < hosts.size(); ++i)
    if (is_primary[i]) {
      known_hosts_.push_back(host_port{hosts[i], ports[i]});
      index_of[i] = static_cast<uint16_t>(node_of(known_hosts_.back()));
    }
  std::vector<uint16_t> next = owner_;
  auto now = self_->clock().now();
  size_t contradicted = 0;
  for (size_t slot = 0; slot < cluster_slot_count && slot < owners.size();
       ++slot) {
    if (owners[slot] == no_owner || owners[slot] >= index_of.size())
      continue;
    auto to = index_of[owners[slot]];
    // A node that has not heard of a failover yet still names the old
    // owner: a slot that moved in the last moments (a MOVED, which came
    // from the cluster itself, or a map) is not moved again by a map until
    // a later fetch confirms it, so no slot flips back and forth, flushing
    // each time.
    if (to != owner_[slot] && !moved_at_.empty()
        && now - moved_at_[slot] < 2 * cfg_.cluster_refresh_spacing) {
      ++contradicted;
      continue;
    }
    next[slot] = to;
  }
  if (contradicted > 0)
    refresh_wanted_ = true;
  // The first map moves slots away from the first seed's cache, which
  // served nothing from Redis that another node needs to forget unless a
  // write reached it.
  auto flush = mapped_ || written_unmapped_;
  auto moved = move_slots(next, flush);
  if (moved > 0 || !mapped_)
    log_.write(log_level::info, "slot_map",
               {{"primaries",
                 std::to_string(std::count(is_primary.begin(),
                                           is_primary.end(), true))},
                {"moved_slots", std::to_string(moved)},
                {"flush", flush && moved > 0 ? "true" : "false"}});
  auto first = !mapped_;
  mapped_ = true;
  if (first)
    settle_ready(true);
  if (refresh_wanted_)
    on_refresh();
}

size_t cluster_state::move_slots(const std::vector<uint16_t>& next,
                                 bool flush) {
  std::vector<std::vector<uint16_t>> gains(nodes_.size());
  std::vector<std::vector<uint16_t>> loses(nodes_.size());
  size_t moved = 0;
  for (size_t slot = 0; slot < cluster_slot_count; ++slot) {
    if (next[slot] == owner_[slot])
      continue;
    gains[next[slot]].push_back(static_cast<uint16_t>(slot));
    loses[owner_[slot]].push_back(static_cast<uint16_t>(slot));
    ++moved;
  }
  // Before any request routed by the new table: a node cache handles its
  // mailbox in order.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!loses[i].empty()) {
      nodes_[i].slots -= loses[i].size();
      self_->send(nodes_[i].cache, disown_atom::value, std::move(loses[i]));
    }
    if (!gains[i].empty()) {
      nodes_[i].slots += gains[i].size();
      self_->send(nodes_[i].cache, own_atom::value,
                  caf::actor_cast<caf::actor>(self_), flush,
                  std::move(gains[i]));
    }
  }
  if (moved > 0) {
    if (moved_at_.empty())
      moved_at_.resize(cluster_slot_count, time_point{});
    auto now = self_->clock().now();
    for (size_t slot = 0; slot < cluster_slot_count; ++slot)
      if (next[slot] != owner_[slot])
        moved_at_[slot] = now;
  }
  owner_ = next;
  return moved;
}

size_t cluster_state::redirect_target(const std::string& key,
                                      std::string& host, uint16_t port,
                                      bool ask) {
  auto target = node_of(host_port{std::move(host), port});
  if (ask)
    return target;
  auto slot = key_slot(commands::redis_key(cfg_.key_prefix, key));
  if (owner_[slot] != target) {
    auto next = owner_;
    next[slot] = static_cast<uint16_t>(target);
    move_slots(next, true);
    log_.write(log_level::info, "slot_moved",
               {{"slot", std::to_string(slot)}, {"to", nodes_[target].name}});
  }
  on_refresh();
  return target;
}

caf::result<get_result> cluster_state::on_redirect(get_job& job,
                                                   std::string& host,
                                                   uint16_t port, bool ask) {
  auto target = redirect_target(job.key, host, port, ask);
  ++job.redirects;
  job.asking = ask;
  return self_->delegate(nodes_[target].cache, routed_atom::value,
                         std::move(job));
}

caf::result<write_result> cluster_state::on_redirect(write_job& job,
                                                     std::string& host,
                                                     uint16_t port, bool ask) {
  auto target = redirect_target(job.key, host, port, ask);
  ++job.redirects;
  job.asking = ask;
  return self_->delegate(nodes_[target].cache, routed_atom::value,
                         std::move(job));
}

void cluster_state::on_topology_failed(caf::error& err) {
  fetching_ = false;
  if (stopping_)
    return;
  fetch_error_ = err;
  uint64_t held = 0;
  if (failed_lines_.admit(self_->clock().now(), held))
    log_.write(log_level::warn, "slot_map_failed",
               {{"redis", redis_redacted_},
                {"error", log_text(err)},
                {"suppressed", held > 0 ? std::to_string(held) : ""}});
  if (!mapped_) {
    // As with a single Redis: credentials or configuration that are wrong
    // fail spawn_cache; a cluster that is not reachable yet does not.
    if (is(err, errc::auth_failed) || is(err, errc::bad_config))
      settle_ready(std::move(err));
    else
      settle_ready(true);
  }
  refresh_wanted_ = true;
  on_refresh();
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
