// The cache actor: requests handed to the node cache of each key, the
// signals of each node cache's actors, and shutdown (see actors/front.hpp;
// reports in actors/front_reports.cpp, the slot map of a Cluster in
// actors/cluster_map.cpp).

#include "actors/front.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <tuple>
#include <type_traits>
#include <unordered_map>

#include "actors/bulk_answers.hpp"
#include "messages/errc.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/request_rules.hpp"

namespace cafcache {

void front_state::init(config cfg) {
  cfg_ = std::move(cfg);
  endpoint_ = cfg_.endpoint();
  redis_redacted_ = redacted(endpoint_);
  log_ = logger::named(cfg_.log_level);
  failed_lines_ = log_throttle{cfg_.log_burst};
  self_->set_exit_handler([this](caf::exit_msg& msg) { on_exit(msg); });
  self_->set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  clustered_ = endpoint_.cluster()
               && cfg_.backend_type() == backend_kind::redis;
  if (!clustered_) {
    add_node(host_port{endpoint_.host, endpoint_.port}, cfg_);
    return;
  }
  // Until a map names the primaries, the first seed's cache takes every
  // slot: requests get answers (from its fallback, if nothing else).
  auto first = node_of(endpoint_.cluster_seeds.front());
  owner_.assign(cluster_slot_count, static_cast<uint16_t>(first));
  std::vector<uint16_t> all(cluster_slot_count);
  for (size_t slot = 0; slot < all.size(); ++slot)
    all[slot] = static_cast<uint16_t>(slot);
  nodes_[first].cache->on_own(caf::actor_cast<caf::actor>(self_), false,
                              std::move(all));
  last_fetch_ = self_->clock().now();
  fetch();
  self_->delayed_send(self_, cfg_.cluster_refresh_period,
                      map_period_atom::value);
}

size_t front_state::add_node(host_port address, config cfg) {
  auto index = nodes_.size();
  node x;
  x.address = std::move(address);
  x.name = address_of(x.address);
  x.cache = std::make_unique<cache_state>(self_);
  x.cache->init(std::move(cfg), static_cast<uint16_t>(index),
                [this](const caf::error&) { maybe_quit(); });
  for (auto& addr : x.cache->own_actors())
    members_.emplace(addr, static_cast<uint16_t>(index));
  nodes_.push_back(std::move(x));
  return index;
}

std::optional<size_t> front_state::find_node(const host_port& address) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].address.host == address.host
        && nodes_[i].address.port == address.port)
      return i;
  return std::nullopt;
}

size_t front_state::node_of(const host_port& address) {
  if (auto known = find_node(address))
    return *known;
  auto node_cfg = cfg_;
  node_cfg.redis_url = node_url(endpoint_, address);
  std::tie(node_cfg.fallback_max_entries, node_cfg.fallback_max_bytes)
    = fallback_share();
  auto index = add_node(address, std::move(node_cfg));
  // Before any request: the cache knows whom to tell of redirects.
  nodes_[index].cache->on_own(caf::actor_cast<caf::actor>(self_), false, {});
  log_.write(log_level::info, "cluster_node",
             {{"node", nodes_[index].name},
              {"nodes", std::to_string(nodes_.size())}});
  return index;
}

bool front_state::local_message() const {
  // The module's own actors run on this node; a peer reaches the published
  // cache too and could send anything its interface names.
  auto& sender = self_->current_sender();
  return sender && sender->node() == self_->node();
}

cache_state* front_state::sender_node() {
  if (!local_message())
    return nullptr;
  if (nodes_.size() == 1)
    return nodes_.front().cache.get();
  auto i = members_.find(self_->current_sender()->address());
  return i != members_.end() ? nodes_[i->second].cache.get() : nullptr;
}

cache_state* front_state::own_part(uint16_t index) {
  // Only this actor names a node cache by index (its timers and reports);
  // from anyone else, such a message is dropped.
  auto& sender = self_->current_sender();
  if (index >= nodes_.size() || !sender || sender != self_->ctrl())
    return nullptr;
  return nodes_[index].cache.get();
}

cache_state* front_state::node_of_actor(const caf::actor& actor) {
  if (!local_message() || !actor)
    return nullptr;
  if (nodes_.size() == 1)
    return nodes_.front().cache.get();
  auto i = members_.find(actor.address());
  return i != members_.end() ? nodes_[i->second].cache.get() : nullptr;
}

void front_state::on_connection(uint32_t slot, caf::actor conn,
                                caf::error err, std::string identity) {
  if (!local_message())
    return;
  auto owner = members_.find(self_->current_sender()->address());
  uint16_t index = 0;
  if (owner != members_.end())
    index = owner->second;
  else if (nodes_.size() != 1)
    return;
  // Registered even with one node: a Cluster starts with one.
  if (conn && members_.emplace(conn.address(), index).second)
    self_->monitor(conn);
  nodes_[index].cache->on_connection(slot, std::move(conn), std::move(err),
                                     std::move(identity));
}

size_t front_state::node_for(const std::string& key) const {
  if (!clustered_)
    return 0;
  return owner_[key_slot(cfg_.key_prefix, key)];
}

size_t front_state::writer_for(const std::string& key) {
  auto index = node_for(key);
  if (!mapped_ && index == 0)
    written_unmapped_ = true;
  return index;
}

caf::error front_state::refusal(bool tagged) const {
  // A single Redis: the node cache refuses (and counts) what it must.
  if (!clustered_)
    return caf::none;
  if (stopping_)
    return make_error(errc::shutting_down);
  if (tagged && !hash_tag_closed(cfg_.key_prefix))
    return make_error(errc::invalid_tag,
                      "tags on a Redis Cluster need a key prefix without "
                      "'{', or with a whole hash tag: a value and its tag "
                      "sets would live in different slots");
  return caf::none;
}

// -- requests -----------------------------------------------------------------

caf::result<get_result> front_state::get(std::string& key,
                                           request_options& opts) {
  if (auto err = refusal(false))
    return err;
  return nodes_[node_for(key)].cache->get(key, opts);
}

caf::result<write_result> front_state::set(std::string& key,
                                             cache_value& value,
                                             set_options& opts) {
  if (auto err = refusal(!opts.tags.empty()))
    return err;
  return nodes_[writer_for(key)].cache->set(key, value, opts);
}

caf::result<write_result> front_state::invalidate(std::string& key,
                                                    request_options& opts) {
  if (auto err = refusal(false))
    return err;
  return nodes_[writer_for(key)].cache->invalidate(key, opts);
}

caf::result<write_result>
front_state::invalidate_tag(std::string& tag, request_options& opts) {
  if (auto err = refusal(true))
    return err;
  // A tag has sets in the slots of its values, on every primary: each node
  // cache invalidates its own (the sets in its Redis, the entries of its
  // fallback, its dirty-key log when its Redis cannot), and the answer is
  // the first error, or the fallback when any node went there.
  if (!clustered_)
    return nodes_.front().cache->invalidate_tag(tag, opts);
  auto nodes = serving_nodes();
  if (nodes.size() == 1)
    return nodes_[nodes.front()].cache->invalidate_tag(tag, opts);
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
  // Each part now, in the order of the requests: a later request of the
  // same client is handled after it.
  for (auto index : nodes) {
    auto part = tag;
    nodes_[index].cache->invalidate_tag(
      part, opts, [state](caf::expected<write_result> x) {
        if (!x) {
          if (!state->err)
            state->err = std::move(x.error());
        } else if (x->target != tier::redis) {
          state->result.target = x->target;
        }
        state->one_done();
      });
  }
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

template <class Result, class Item, class Options>
caf::result<std::vector<Result>>
front_state::split(std::vector<Item>& items, Options& opts, bool writes) {
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
    auto& part = parts[index].first;
    auto& cache = *nodes_[index].cache;
    if constexpr (std::is_same_v<Result, get_result>)
      return cache.mget(part, opts);
    else
      return cache.mset(part, opts);
  }
  auto state = std::make_shared<bulk_answers<Result>>();
  state->results.resize(items.size());
  state->left = items.size();
  state->rp = self_->template make_response_promise<std::vector<Result>>();
  // Each part now, in the order of the requests: a later request of the
  // same client (a set of one of these keys) is handled after it. A part
  // refused ends the request; the writes were checked before any part ran.
  for (auto& [index, part] : parts) {
    if (state->failed)
      break;
    auto& cache = *nodes_[index].cache;
    if constexpr (std::is_same_v<Result, get_result>)
      cache.mget(part.first, opts, state, part.second);
    else
      cache.mset(part.first, opts, state, part.second);
  }
  return state->rp;
}

caf::result<std::vector<get_result>>
front_state::mget(std::vector<std::string>& keys, request_options& opts) {
  if (!clustered_)
    return nodes_.front().cache->mget(keys, opts);
  if (auto err = refusal(false))
    return err;
  return split<get_result>(keys, opts, false);
}

caf::result<std::vector<write_result>>
front_state::mset(std::vector<key_value>& entries, set_options& opts) {
  if (!clustered_)
    return nodes_.front().cache->mset(entries, opts);
  if (auto err = refusal(!opts.tags.empty()))
    return err;
  // All or nothing, as on one Redis: no part is written when an entry of
  // another part is refused.
  auto err = check_tags(opts.tags);
  for (size_t i = 0; i < entries.size() && !err; ++i) {
    err = check_key(entries[i].key, cfg_.max_key_bytes);
    if (!err)
      err = check_value(entries[i].value, cfg_.max_value_bytes);
  }
  if (err)
    return err;
  return split<write_result>(entries, opts, true);
}

caf::result<get_result> front_state::get_or_load(std::string& key,
                                                   loader_actor& loader,
                                                   set_options& opts) {
  if (auto err = refusal(!opts.tags.empty()))
    return err;
  return nodes_[writer_for(key)].cache->get_or_load(key, loader, opts);
}

void front_state::on_down(const caf::down_msg& msg) {
  members_.erase(msg.source);
}

void front_state::on_exit(const caf::exit_msg& msg) {
  // Shutdown: every node cache answers what it holds, then this one ends.
  if (stopping_)
    return;
  stopping_ = true;
  stop_reason_ = msg.reason;
  // A node cache may stop at once, and the last one ends this actor.
  for (size_t i = 0; i < nodes_.size(); ++i)
    nodes_[i].cache->stop(msg.reason);
  maybe_quit();
}

void front_state::maybe_quit() {
  // The reports this actor asked its node caches for are answered before
  // it ends, as are the requests each node cache holds, unless one gave up
  // waiting (its safety net, `request-timeout` * 4 into the shutdown).
  if (!stopping_)
    return;
  auto gave_up = false;
  for (auto& x : nodes_) {
    if (!x.cache->stopped())
      return;
    gave_up = gave_up || x.cache->gave_up();
  }
  if (asked_ == 0 || gave_up)
    self_->quit(stop_reason_);
}

cache_internal_actor::behavior_type
front(cache_internal_actor::stateful_pointer<front_state> self, config cfg) {
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
    // -- the signals of a node cache's actors, told apart by sender ---------
    [=](route_atom, breaker_state state) {
      if (auto x = self->state.sender_node())
        x->on_route(state);
    },
    [=](conn_atom, uint32_t slot, caf::actor& conn, caf::error& err,
        std::string& identity) {
      self->state.on_connection(slot, std::move(conn), std::move(err),
                                std::move(identity));
    },
    [=](batch_sizes_atom, const bucket_histogram& counts) {
      if (auto x = self->state.sender_node())
        x->on_batch_sizes(counts);
    },
    [=](push_atom, const std::string& channel, const std::string& payload) {
      if (auto x = self->state.sender_node())
        x->on_push(channel, payload);
    },
    [=](served_atom, served_batch& batch) {
      if (auto x = self->state.sender_node())
        x->on_served(batch);
    },
    [=](get_atom, get_job& job, caf::error& err,
        caf::actor& conn) -> caf::result<get_result> {
      if (auto x = self->state.node_of_actor(conn))
        return x->on_handed_over(job, err, conn);
      return make_error(errc::redis_unavailable);
    },
    [=](write_atom, write_job& job, caf::error& err,
        caf::actor& conn) -> caf::result<write_result> {
      if (auto x = self->state.node_of_actor(conn))
        return x->on_handed_over(job, err, conn);
      return make_error(errc::redis_unavailable);
    },
    // -- the timers of a node cache, told apart by index --------------------
    [=](recover_atom, uint16_t i) {
      if (auto x = self->state.own_part(i))
        x->on_recover_timer();
    },
    [=](quit_atom, uint16_t i) {
      if (auto x = self->state.own_part(i))
        x->on_quit_timer();
    },
    [=](sweep_atom, uint16_t i) {
      if (auto x = self->state.own_part(i))
        x->on_sweep();
    },
    [=](report_atom, uint16_t i) {
      if (auto x = self->state.own_part(i))
        x->on_report_window();
    },
    [=](flush_atom, uint16_t i) {
      if (auto x = self->state.own_part(i))
        x->on_flush();
    },
    // -- reports of one node cache, asked by this actor ---------------------
    [=](health_atom, uint16_t i) -> caf::result<health_report> {
      if (auto x = self->state.own_part(i))
        return x->health();
      return caf::sec::unexpected_message;
    },
    [=](stats_atom, uint16_t i) -> caf::result<stats_report> {
      if (auto x = self->state.own_part(i))
        return x->stats();
      return caf::sec::unexpected_message;
    },
    [=](metrics_atom, uint16_t i) -> caf::result<metrics_report> {
      if (auto x = self->state.own_part(i))
        return x->metrics();
      return caf::sec::unexpected_message;
    },
    [=](ready_atom, uint16_t i) -> caf::result<bool> {
      if (auto x = self->state.own_part(i))
        return x->ready();
      return caf::sec::unexpected_message;
    },
    // -- the slot map of a Cluster ------------------------------------------
    [=](refresh_atom) {
      if (self->state.local_message())
        self->state.on_refresh();
    },
    [=](map_period_atom) {
      if (self->state.local_message())
        self->state.on_period();
    },
    [=](topology_atom, std::vector<std::string>& hosts,
        std::vector<uint16_t>& ports, std::vector<uint16_t>& owners) {
      if (self->state.local_message())
        self->state.on_topology(hosts, ports, owners);
    },
    [=](topology_atom, caf::error& err) {
      if (self->state.local_message())
        self->state.on_topology_failed(err);
    },
    [=](redirect_atom, get_job& job, std::string& host, uint16_t port,
        bool ask, uint16_t from) -> caf::result<get_result> {
      if (!self->state.local_message())
        return caf::sec::unexpected_message;
      return self->state.on_redirect(job, host, port, ask, from);
    },
    [=](redirect_atom, write_job& job, std::string& host, uint16_t port,
        bool ask, uint16_t from) -> caf::result<write_result> {
      if (!self->state.local_message())
        return caf::sec::unexpected_message;
      return self->state.on_redirect(job, host, port, ask, from);
    },
  };
}

} // namespace cafcache
