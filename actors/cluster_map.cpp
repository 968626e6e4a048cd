// The slot map of a Redis Cluster: fetching it, applying it, and the
// redirects of node caches (see actors/front.hpp).

#include "actors/front.hpp"

#include <algorithm>
#include <chrono>

#include <caf/detail/scope_guard.hpp>
#include <caf/event_based_actor.hpp>

#include "messages/errc.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/cluster_topology.hpp"

namespace cafcache {

namespace {

constexpr uint16_t no_owner = 0xFFFF;

} // namespace

// -- slot map -----------------------------------------------------------------

std::vector<host_port> front_state::fetch_hosts() const {
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

void front_state::fetch() {
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

void front_state::on_refresh() {
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

void front_state::on_period() {
  if (stopping_)
    return;
  if (!fetching_)
    fetch();
  self_->delayed_send(self_, cfg_.cluster_refresh_period,
                      map_period_atom::value);
}

void front_state::on_topology(std::vector<std::string>& hosts,
                                std::vector<uint16_t>& ports,
                                std::vector<uint16_t>& owners) {
  fetching_ = false;
  if (stopping_)
    return;
  fetch_error_ = caf::none;
  uncovered_ = static_cast<size_t>(
    std::count_if(owners.begin(), owners.end(),
                  [&](uint16_t x) { return x >= hosts.size(); }));
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

size_t front_state::move_slots(const std::vector<uint16_t>& next,
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
  // Before any request routed by the new table.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!loses[i].empty())
      nodes_[i].cache->on_disown(std::move(loses[i]));
    if (!gains[i].empty())
      nodes_[i].cache->on_own(caf::actor_cast<caf::actor>(self_), flush,
                              std::move(gains[i]));
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
  if (moved > 0)
    share_fallback();
  return moved;
}

void front_state::share_fallback() {
  // The bounds are the whole cache's: each primary's fallback gets its
  // part, so that more primaries do not mean more memory.
  auto serving = std::max<size_t>(serving_nodes().size(), 1);
  if (serving == shared_by_)
    return;
  shared_by_ = serving;
  auto [entries, bytes] = fallback_share();
  for (auto& x : nodes_)
    x.cache->on_bounds(entries, bytes);
}

std::pair<uint64_t, uint64_t> front_state::fallback_share() const {
  return {std::max<uint64_t>(cfg_.fallback_max_entries / shared_by_, 1),
          std::max<uint64_t>(cfg_.fallback_max_bytes / shared_by_, 1)};
}

size_t front_state::redirect_target(const std::string& key,
                                      std::string& host, uint16_t port,
                                      bool ask) {
  auto target = node_of(host_port{std::move(host), port});
  if (ask)
    return target;
  auto slot = key_slot(cfg_.key_prefix, key);
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

template <class Result, class Job>
caf::result<Result> front_state::redirect(Job& job, std::string& host,
                                          uint16_t port, bool ask,
                                          uint16_t from) {
  // The node cache that handed the request over counted it until now, and
  // lets go of it once it is routed (or answered here).
  auto release = caf::detail::make_scope_guard([this, from] {
    if (from < nodes_.size())
      nodes_[from].cache->routed_elsewhere();
  });
  // During a shutdown no node cache starts: a redirect to a node without
  // one is answered, not acknowledged.
  if (stopping_ && !find_node(host_port{host, port}))
    return make_error(errc::shutting_down);
  auto target = redirect_target(job.key, host, port, ask);
  ++job.redirects;
  job.asking = ask;
  return nodes_[target].cache->on_routed(job);
}

caf::result<get_result> front_state::on_redirect(get_job& job,
                                                   std::string& host,
                                                   uint16_t port, bool ask,
                                                   uint16_t from) {
  return redirect<get_result>(job, host, port, ask, from);
}

caf::result<write_result> front_state::on_redirect(write_job& job,
                                                     std::string& host,
                                                     uint16_t port, bool ask,
                                                     uint16_t from) {
  return redirect<write_result>(job, host, port, ask, from);
}

void front_state::on_topology_failed(caf::error& err) {
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

} // namespace cafcache
