#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/cache.hpp"
#include "messages/internal.hpp"
#include "runtime/config.hpp"
#include "runtime/log.hpp"
#include "runtime/log_throttle.hpp"
#include "runtime/redis_url.hpp"

namespace cafcache {

/// State of the cache actor, the only actor users talk to.
///
/// It hosts one node cache (cache_state, actors/cache.hpp: the cache of one
/// Redis node, with its own connections, breaker, fallback and dirty-key
/// log) per Redis node: one on a single Redis or behind Sentinel, one per
/// primary on a redis-cluster:// URL. A request is a call into the node
/// cache of its key, which hands it on to a connection or the fallback
/// (`delegate`: that actor answers the client), so a Cluster costs no more
/// hops than a single Redis. The messages of a node cache's own actors
/// (breaker, supervisor, connections, fallback) are told apart by their
/// sender, and its timers by the index they carry.
///
/// On a Cluster, a primary that dies or hangs affects only its slots: its
/// node cache's breaker opens and its fallback answers, while the others
/// keep serving from Redis. `mget`/`mset` are split by node and answered in
/// order. A tag has one set per slot, next to its values
/// (commands::tag_layout), so a tagged set is one script on one node, and
/// `invalidate_tag` goes to every node cache, each sweeping its own Redis.
///
/// The slot map comes from `CLUSTER SLOTS` (runtime/cluster_topology), asked
/// of the replicas first, then the primaries, then the seeds: at start,
/// every `cluster-refresh-period`, and when a node cache meets a redirect
/// (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`), at most once per
/// `cluster-refresh-spacing` and never twice at a time. Until the first map
/// arrives, every slot belongs to the node cache of the first seed.
///
/// Moving slots, the rule that keeps "no value older than an acknowledged
/// write" true across failovers and resharding: when a fetched map gives
/// slots to another primary, the node cache that loses them drops its
/// fallback's entries of them (`on_disown`) and the one that gains them
/// deletes its node's keys of ours in them before it reads Redis again
/// (`on_own` with flush), because the previous owner may have acknowledged
/// writes the new one never got (asynchronous replication, or writes its
/// fallback took while it was unreachable). Both are done before any
/// request is routed by the new map. A slot that moved moments ago is not
/// moved again by a fetched map (a node that has not heard of a failover
/// yet names the old owner). A request that meets `MOVED` or `ASK` comes
/// back here and goes to the node named (at most `max_redirects` times; a
/// `MOVED` moves that slot at once, by the same rule); a redirected write
/// the node named cannot take (its cache has no connection up yet) is
/// answered `redis_unavailable`, not acknowledged. `TRYAGAIN` and
/// `CLUSTERDOWN` are answered like a request Redis could not serve (the
/// fallback, marked stale; a write to the fallback and the dirty-key log).
/// None of them counts against a node's breaker.
class front_state {
public:
  using self_pointer = cache_internal_actor::stateful_pointer<front_state>;

  using time_point = caf::actor_clock::time_point;

  explicit front_state(self_pointer self) : self_(self) {
    // Nothing to do.
  }

  /// Starts the node cache of the Redis (on a Cluster: of the first seed,
  /// and the first fetch of the slot map).
  void init(config cfg);

  /// True when the current message comes from an actor on this node: the
  /// signals of the module's own actors are taken from nowhere else.
  bool local_message() const;

  /// The node cache whose actor sent the current message (nullptr: none).
  cache_state* sender_node();

  /// Node cache `index` for a message this actor sent itself (nullptr: the
  /// index is unknown or another actor sent it).
  cache_state* own_part(uint16_t index);

  /// The node cache of connection or fallback `actor` (nullptr: none).
  cache_state* node_of_actor(const caf::actor& actor);

  /// The supervisor reports a connection: its messages are that node
  /// cache's from now on.
  void on_connection(uint32_t slot, caf::actor conn, caf::error err,
                     std::string identity);

  // -- requests ---------------------------------------------------------------

  caf::result<get_result> get(std::string& key, request_options& opts);

  caf::result<write_result> set(std::string& key, cache_value& value,
                                set_options& opts);

  caf::result<write_result> invalidate(std::string& key,
                                       request_options& opts);

  caf::result<write_result> invalidate_tag(std::string& tag,
                                           request_options& opts);

  caf::result<std::vector<get_result>> mget(std::vector<std::string>& keys,
                                            request_options& opts);

  caf::result<std::vector<write_result>>
  mset(std::vector<key_value>& entries, set_options& opts);

  caf::result<get_result> get_or_load(std::string& key, loader_actor& loader,
                                      set_options& opts);

  caf::result<health_report> health();

  caf::result<stats_report> stats();

  caf::result<metrics_report> metrics();

  caf::result<bool> ready();

  // -- slot map ---------------------------------------------------------------

  /// A node cache met a redirect: fetch the map (rate-limited).
  void on_refresh();

  /// The periodic fetch is due.
  void on_period();

  /// A fetch gave a map: `owners[slot]` indexes `hosts`/`ports` (0xFFFF:
  /// the slot has no owner; it stays with its current cache).
  void on_topology(std::vector<std::string>& hosts,
                   std::vector<uint16_t>& ports,
                   std::vector<uint16_t>& owners);

  /// A fetch found no map.
  void on_topology_failed(caf::error& err);

  /// A node cache's Redis redirected a delegated request to host:port: a
  /// `MOVED` moves the key's slot to that node at once (with the slot-move
  /// rule; a fetch of the whole map follows), an `ASK` (`ask`) sends this
  /// one request there behind `ASKING`, the table unchanged. Node cache
  /// `from` counted the request until now (cache_state::no_node: none).
  caf::result<get_result> on_redirect(get_job& job, std::string& host,
                                      uint16_t port, bool ask, uint16_t from);
  caf::result<write_result> on_redirect(write_job& job, std::string& host,
                                        uint16_t port, bool ask,
                                        uint16_t from);

  /// Shutdown: every node cache answers what it holds, then this actor
  /// ends.
  void on_exit(const caf::exit_msg& msg);

  /// A connection ended: its messages were all handled.
  void on_down(const caf::down_msg& msg);

  static inline const char* name = "cafcache.cache";

private:
  /// Time a node cache has to answer a part of a request or a report
  /// beyond the request's deadline: it answers by then, so this only
  /// guards against one that is stuck.
  static constexpr caf::timespan answer_slack = std::chrono::seconds(1);

  struct node {
    host_port address;
    /// "host:port", for logs and health.
    std::string name;
    std::unique_ptr<cache_state> cache;
  };

  /// Starts the node cache of `cfg` as node `nodes_.size()`.
  size_t add_node(host_port address, config cfg);

  /// Ends this actor once a shutdown began, every node cache holds no
  /// request and every report this actor asked for is in.
  void maybe_quit();

  /// A report this actor asked a node cache for is in.
  void answered();

  /// The node of `address`, if it has one.
  std::optional<size_t> find_node(const host_port& address) const;

  /// This actor's handle, for the requests it sends itself.
  cache_internal_actor handle() const {
    return caf::actor_cast<cache_internal_actor>(self_);
  }

  /// The node of `address`, starting its cache when it is new.
  size_t node_of(const host_port& address);

  /// The node whose cache serves `key`.
  size_t node_for(const std::string& key) const;

  /// The node a redirect names; a MOVED moves the key's slot there.
  size_t redirect_target(const std::string& key, std::string& host,
                         uint16_t port, bool ask);

  /// Moves slots to new owners (`next[slot]`), telling the caches that lose
  /// and gain them; returns how many moved.
  size_t move_slots(const std::vector<uint16_t>& next, bool flush);

  /// Splits the fallback's bounds anew when the number of primaries that
  /// serve slots changed, and tells every node cache its share.
  void share_fallback();

  /// A node cache's share of `fallback-max-entries` and `-bytes`.
  std::pair<uint64_t, uint64_t> fallback_share() const;

  /// A bulk request split by node and answered in order (`writes`: the
  /// items are writes); each part runs at once.
  template <class Result, class Item, class Options>
  caf::result<std::vector<Result>>
  split(std::vector<Item>& items, Options& opts, bool writes);

  /// The report of the one node cache of a single Redis (asked with a
  /// `uint16_t` message to this actor, counted in `asked_`).
  template <class Report, class Atom>
  caf::result<Report> forward(Atom atom);

  /// `stats` or `metrics` of every node cache, folded into one (asked
  /// with `uint16_t` messages to this actor).
  template <class Report, class Atom>
  caf::result<Report> gather(Atom atom, Report empty);

  /// Hands a redirected job to the node named (see `on_redirect`).
  template <class Result, class Job>
  caf::result<Result> redirect(Job& job, std::string& host, uint16_t port,
                               bool ask, uint16_t from);

  /// Starts a fetch in a detached actor.
  void fetch();

  /// The hosts a fetch asks, in order.
  std::vector<host_port> fetch_hosts() const;

  /// Answers the ready waiters once the node caches of the map answered.
  void settle_ready(caf::expected<bool> answer);

  /// The error that refuses a request now (shutdown, or `tagged`: a set
  /// with tags or `invalidate_tag` under a prefix whose braces would put
  /// the tag sets into other slots), if any.
  caf::error refusal(bool tagged) const;

  /// The nodes that own slots (the ones health asks).
  std::vector<size_t> serving_nodes() const;

  /// Every node, also those that own no slots now (stats and metrics).
  std::vector<size_t> all_nodes() const;

  /// For each node, how many slots it serves.
  std::vector<uint32_t> slot_counts() const;

  /// The node of a write of `key`; before the first map, notes that the
  /// first seed's cache took a write (its slots then move with a flush).
  size_t writer_for(const std::string& key);

  self_pointer self_;
  config cfg_;
  redis_endpoint endpoint_;
  /// A redis-cluster:// URL: requests are routed by slot.
  bool clustered_ = false;
  /// The node cache of each actor whose messages are a node cache's own.
  std::unordered_map<caf::actor_addr, uint16_t> members_;
  std::string redis_redacted_;
  logger log_;
  /// Bounds the `slot_map_failed` lines while no node answers.
  log_throttle failed_lines_;
  std::vector<node> nodes_;
  /// For each slot, the index of its node in `nodes_`.
  std::vector<uint16_t> owner_;
  /// When each slot last moved (empty until the first move).
  std::vector<time_point> moved_at_;
  /// The nodes of the last map (primaries, then replicas), asked next time.
  std::vector<host_port> known_hosts_;
  /// The fallback's bounds are split over this many node caches.
  size_t shared_by_ = 1;
  /// A map was applied.
  bool mapped_ = false;
  /// Before the first map: a write went to the first seed's cache.
  bool written_unmapped_ = false;
  bool fetching_ = false;
  /// Why the last fetch found no map (none after a map).
  caf::error fetch_error_;
  /// Slots the last map gave to no primary (they stay with their cache,
  /// whose node answers CLUSTERDOWN for them): health is not healthy.
  size_t uncovered_ = 0;
  /// A refresh was asked for while a fetch ran or too soon after one.
  bool refresh_wanted_ = false;
  bool refresh_scheduled_ = false;
  time_point last_fetch_;
  uint64_t fetches_ = 0;
  bool ready_settled_ = false;
  caf::expected<bool> ready_answer_{true};
  std::vector<caf::typed_response_promise<bool>> ready_waiters_;
  bool stopping_ = false;
  caf::error stop_reason_;
  /// Reports this actor asked its node caches for and still waits for.
  size_t asked_ = 0;
};

/// Spawnable behavior of the cache actor.
cache_internal_actor::behavior_type
front(cache_internal_actor::stateful_pointer<front_state> self, config cfg);

} // namespace cafcache
