#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/bulk_answers.hpp"
#include "actors/cache_operation.hpp"
#include "messages/internal.hpp"
#include "runtime/cluster_slots.hpp"
#include "runtime/codec.hpp"
#include "runtime/coherence.hpp"
#include "runtime/config.hpp"
#include "runtime/deadline_queue.hpp"
#include "runtime/key_router.hpp"
#include "runtime/readiness.hpp"
#include "runtime/recent_writes.hpp"
#include "runtime/resp.hpp"
#include "runtime/slot_set.hpp"
#include "runtime/latency_histogram.hpp"
#include "runtime/log.hpp"
#include "runtime/log_throttle.hpp"
#include "messages/metrics_report.hpp"

namespace cafcache {

/// The cache of one Redis node (a single Redis, the master Sentinel names,
/// or one primary of a Cluster): its connections, breaker, fallback and
/// dirty-key log. Not an actor of its own: the cache actor (actors/front.hpp)
/// hosts one per node and calls it for the requests and signals that are
/// this node's, so a request costs no hop to reach it. It sends and
/// delegates as the cache actor, and its timers carry its index.
///
/// Routing: Redis is used only while the breaker is closed, a connection is
/// up and no dirty key waits for replay; otherwise the fallback answers. Every
/// request gets a deadline; Redis gets the deadline minus
/// `fallback-reserve`, so that the fallback can still answer in time when
/// Redis fails (stale-if-error).
///
/// Coherence: a key's commands travel over the connection `key_router` names
/// its owner, and the fallback is updated only when Redis has answered, so
/// the fallback sees writes in the order Redis applied them. Every write's
/// outcome trips the mirror guard for its key, so a read reply that was under
/// way meanwhile is never copied over it. Writes go to Redis while any
/// connection is up and the breaker is closed; a write whose connection was
/// lost is sent again over a live one before it is answered. A write that
/// still fails or may not have reached Redis (no connection, deadline) goes
/// to the fallback, its key to the dirty log, and is acknowledged with
/// `tier::fallback`; a write Redis refused (error reply) is answered with
/// `redis_error` and its key deleted in Redis right behind it, or logged as
/// dirty when even that fails. Reads do not go to Redis while the log waits
/// for replay (the keys deleted in Redis, over their owners), so an old
/// value in Redis is never read after an acknowledged write or invalidate.
class cache_state {
public:
  // -- member types ---------------------------------------------------------

  using self_pointer = cache_internal_actor::pointer;

  using time_point = caf::actor_clock::time_point;

  // -- constructors ---------------------------------------------------------

  explicit cache_state(self_pointer self) : self_(self) {
    // Nothing to do.
  }

  /// Spawns fallback, breaker and supervisor (linked to the cache actor).
  /// `index` goes with this node cache's timers; `stopped` is called once
  /// a shutdown answered every request this node cache held.
  void init(config cfg, uint16_t index,
            std::function<void(const caf::error&)> stopped);

  /// Its fallback, breaker and supervisor, whose messages are its own.
  std::vector<caf::actor_addr> own_actors() const;

  // -- callbacks for the behavior -------------------------------------------

  /// The requests of `cache_actor` (messages/interfaces.hpp), one each.
  caf::result<get_result> get(std::string& key, const request_options& opts);
  caf::result<write_result> set(std::string& key, cache_value& value,
                                const set_options& opts);
  caf::result<write_result> invalidate(std::string& key,
                                       const request_options& opts);
  caf::result<write_result> invalidate_tag(std::string& tag,
                                           const request_options& opts);
  caf::result<std::vector<get_result>>
  mget(std::vector<std::string>& keys, const request_options& opts);
  caf::result<std::vector<write_result>>
  mset(std::vector<key_value>& entries, const set_options& opts);
  caf::result<get_result> get_or_load(std::string& key, loader_actor& loader,
                                      const set_options& opts);

  /// A part of a request that spans node caches (Redis Cluster), run at
  /// once in the order the request came: the answer of `keys[i]` goes to
  /// `positions[i]` of `bulk`, a refusal fails the whole of `bulk`.
  void mget(std::vector<std::string>& keys, const request_options& opts,
            const std::shared_ptr<bulk_answers<get_result>>& bulk,
            const std::vector<size_t>& positions);
  void mset(std::vector<key_value>& entries, const set_options& opts,
            const std::shared_ptr<bulk_answers<write_result>>& bulk,
            const std::vector<size_t>& positions);
  void invalidate_tag(std::string& tag, const request_options& opts,
                      std::function<void(caf::expected<write_result>)> sink);
  /// The reports; `metrics` has every counter and histogram, for a scrape.
  caf::result<health_report> health();
  caf::result<stats_report> stats();
  caf::result<bool> ready();
  caf::result<metrics_report> metrics();

  /// A closing Redis connection hands over the batch sizes it counted.
  void on_batch_sizes(const bucket_histogram& counts);
  /// The breaker pushed a new route.
  void on_route(breaker_state state);

  /// The supervisor reports a connection slot up or down; `identity` names
  /// the dataset it reached ("run_id/master_replid", empty when unknown).
  void on_connection(uint32_t slot, caf::actor conn, caf::error err,
                     std::string identity);

  /// A message on a subscribed channel: another node's invalidation.
  void on_push(const std::string& channel, const std::string& payload);

  /// Timer: retries a failed replay (not while stopping).
  void on_recover_timer();
  /// Timer: a shutdown that waited too long for outstanding requests ends.
  void on_quit_timer();

  void on_sweep(); ///< Timer: expires the deadlines that passed.
  /// Timer: a window of failure reports ended; reports what it counted.
  void on_report_window();
  void on_served(served_batch& batch); ///< Gets a connection answered.
  void on_flush(); ///< The round in which gets were collected is over.
  /// A connection hands back a delegated get it could not serve with `err`.
  caf::result<get_result> on_handed_over(get_job& job, caf::error& err,
                                         caf::actor& conn);
  /// A connection hands back a delegated write: refused by Redis, past its
  /// Redis deadline (`errc::timeout`), or its connection is lost.
  caf::result<write_result> on_handed_over(write_job& job, caf::error& err,
                                           caf::actor& conn);

  /// Shutdown: refuse new requests, answer pending ones, then report
  /// `stopped`.
  void stop(const caf::error& reason);
  /// A shutdown began and this node cache holds no request any more (or
  /// gave up waiting for them, `request-timeout` * 4 after it began).
  bool stopped() const {
    return stopping_ && (outstanding_ == 0 || gave_up_);
  }
  /// The shutdown's safety net fired.
  bool gave_up() const {
    return gave_up_;
  }

  /// Redis Cluster (actors/cache_cluster.cpp): `slots` moved here; with
  /// `flush` their keys are deleted on this node before it is read again
  /// and the fallback drops its entries of them.
  void on_own(caf::actor cluster, bool flush, std::vector<uint16_t> slots);
  /// Redis Cluster: `slots` moved away; the fallback drops their entries.
  void on_disown(std::vector<uint16_t> slots);
  /// Redis Cluster: the fallback's share of the bounds from now on.
  void on_bounds(uint64_t entries, uint64_t bytes);
  /// Redis Cluster: the cache actor routed a request this node cache handed
  /// it after a redirect; it no longer counts here.
  void routed_elsewhere() {
    done_one();
  }
  /// No node cache (a redirect of a request a node cache still holds).
  static constexpr uint16_t no_node = 0xFFFF;
  /// Redis Cluster: a request another node redirected here (deadlines stand).
  caf::result<get_result> on_routed(get_job& job);
  caf::result<write_result> on_routed(write_job& job);

private:
  // -- request plumbing ------------------------------------------------------

  using operation = cache_operation;
  using load_flight = cache_load_flight;
  using op_ptr = std::shared_ptr<operation>;
  using flight_ptr = std::shared_ptr<load_flight>;

  /// The deadlines of a request received at `start` that asked for
  /// `requested` (zero: `request-timeout`): the answer's, and Redis' (the
  /// answer's minus `fallback-reserve`, or half the time when that is short).
  void set_deadlines(time_point start, caf::timespan requested,
                     time_point& deadline, time_point& redis_deadline) const;
  /// True unless the request being handled came from another node.
  bool local_sender() const;
  /// Delegates a get to its key's connection, which answers the client;
  /// nullopt when reads do not go to Redis or time is short.
  std::optional<caf::delegated<get_result>> delegate_get(get_job& job,
                                                         time_point now);
  /// Hands the get being handled, with its client's promise, to the
  /// connection in `slot`: at once when nothing else waits in the mailbox,
  /// else with the other gets for that connection when the round ends.
  void collect_get(size_t slot, get_job& job);
  /// Sends every connection the gets collected for it.
  void flush_gets();
  /// Delegates a get to the fallback, which answers the client itself;
  /// `redis_failed` marks a miss stale.
  caf::delegated<get_result> delegate_to_fallback(get_job& job,
                                                  bool redis_failed);
  /// The slot a delegated job goes to when it may go to Redis (`routed`)
  /// and has time left; counts the attempt and the request outstanding.
  template <class Job>
  std::optional<size_t> take_slot(Job& job, bool routed, time_point now);
  /// Delegates a plain set or invalidate to its key's connection, which
  /// answers the client once Redis applied it; nullopt when writes do not go
  /// to Redis or time is short.
  std::optional<caf::delegated<write_result>> delegate_write(write_job& job,
                                                             time_point now);
  /// The operation (deadline armed, promise made) of a write job taken back.
  op_ptr write_op_of(write_job& job);
  /// A write job for `key` received now, with the deadlines of `requested`.
  write_job write_job_of(std::string& key, std::string stored,
                         caf::timespan ttl, caf::timespan requested,
                         const std::string& correlation_id, time_point now);
  /// What a delegated write Redis applied means for the fallback and the
  /// guard; adds the fallback's update to `mirror`.
  void on_written(served_request& x, std::vector<mirror_entry>& mirror);
  /// Counts a get Redis answered, by what it held.
  void count_served(served_kind kind);
  /// The fallback's copy of what Redis was read to hold under `key`.
  mirror_entry mirror_of(std::string key, served_kind kind,
                         std::string stored) const;
  /// Creates an operation and registers its deadline.
  op_ptr start(operation::kind what, std::string key, caf::timespan requested);

  /// Registers a deadline of `op` and makes sure the sweep timer runs.
  void arm(const op_ptr& op, time_point at);

  /// A deadline of `op` passed: fail over to the fallback or time out.
  void on_expired(const op_ptr& op, time_point now);

  void answer(const op_ptr& op, get_result x);
  void answer(const op_ptr& op, write_result x);
  void answer(const op_ptr& op, caf::error err);

  /// `n` requests (one) were answered, here or by a connection.
  void done(size_t n);
  void done_one();

  /// Tells the cache actor when a shutdown has nothing left here.
  void check_stopped();

  // -- metrics and logs --------------------------------------------------------

  /// Counts the answer of `op` by operation and outcome and records its
  /// latency; logs it at debug level.
  void observe(const operation& op, metric_outcome outcome);
  void observe(metric_op which, metric_outcome outcome, caf::timespan elapsed,
               const std::string& correlation_id);

  /// The operation `op` is counted as (a get_or_load caller, or its kind).
  static metric_op metric_of(const operation& op);

  /// Counts an error answered to a caller.
  void count_error(const caf::error& err);

  /// One warning line about a failed or refused request, rate-limited by
  /// `lines`; what the limit holds back is counted in the next line's
  /// `suppressed`.
  void warn_request(log_throttle& lines, const char* event, metric_op which,
                    const caf::error& err, const std::string& correlation_id);

  /// Counts and logs a request refused before it started; returns `err`.
  caf::error refuse(metric_op which, caf::error err,
                    const std::string& correlation_id);

  /// Answers `rp` with the counters and the fallback's figures.
  void report_stats(caf::typed_response_promise<stats_report> rp);
  /// The health flags, without counters.
  health_report current_health() const;

  /// Checks the key (runtime/request_rules), that no shutdown began and
  /// the credentials: the error that refuses the request, if any.
  caf::error admit(const std::string& key);

  /// Why `invalidate_tag` of `tag` is refused now, if it is.
  caf::error tag_refusal(const std::string& tag) const;

  /// The slot of the connection for the operation's key, or nullopt when
  /// Redis is not routed for it or the deadline leaves it no time.
  std::optional<size_t> route_for(const operation& op) const;

  /// True while writes may go to Redis: breaker closed, a connection up.
  bool writable() const;

  /// True while reads may go to Redis: writable and no dirty key waiting
  /// for its replay.
  bool readable() const;

  /// True when no connection of the pool ever finished its handshake.
  bool never_connected() const;

  /// A connection reached the dataset `identity`: when it is not the one
  /// the recent writes went to, they are deleted before Redis is read again.
  void on_dataset(const std::string& identity);

  /// The error to give when Redis is unusable and the fallback cannot stand in
  /// (for writes while credentials are rejected).
  bool auth_broken() const;

  std::string redis_key(const std::string& key) const;

  // -- tiers -----------------------------------------------------------------

  /// Sends the operation to Redis when it is routed there, else to the
  /// fallback (reads) or the fallback and the dirty log (writes).
  void dispatch(const op_ptr& op);

  /// The Redis command of an operation.
  std::vector<std::string> command_of(const operation& op) const;

  /// Sends the operation's command over `slot`; its reply or failure comes
  /// back to `on_reply` or `redis_failed`, unless the deadline came first.
  void to_redis(const op_ptr& op, size_t slot);

  /// The connection `conn` of `slot` failed a request with `err`: a lost
  /// connection stops taking requests at once, before the supervisor says.
  void on_request_failed(size_t slot, const caf::actor& conn,
                         const caf::error& err);

  /// Sends `op` again over another connection after its own was lost;
  /// false when none is up or time is short.
  bool retry(const op_ptr& op);

  /// Redis refused a write of `op` with `reply`: deletes the key in Redis
  /// behind it, then answers `redis_error`.
  void refused_write(const op_ptr& op, const resp_value& reply);

  void on_reply(const op_ptr& op, resp_value& reply);
  void get_reply(const op_ptr& op, resp_value& reply);

  /// Redis failed or ran out of time: stale-if-error for reads, the
  /// fallback plus the dirty log for writes.
  void redis_failed(const op_ptr& op);

  void fallback_get(const op_ptr& op, bool redis_failed);

  /// The TTL with `ttl-jitter` applied.
  caf::timespan jittered(caf::timespan ttl);

  // -- get_or_load -------------------------------------------------------------

  /// The lookup of a flight finished: answer from the cache or ask the loader.
  void on_lookup_done(const flight_ptr& f, get_result r, const operation& op);

  /// Asks the loader and stores what it says; `f` may have no waiters (a
  /// background refresh after the soft TTL).
  void load(const flight_ptr& f);

  /// Stores a loaded value (or the negative marker) like a set nobody awaits.
  void store_loaded(const load_flight& f, std::string stored,
                    caf::timespan ttl);

  /// Records whether `stored` is past its soft TTL.
  void check_soft_expiry(operation& op, std::string_view stored) const;

  /// Wall-clock time for soft expiries, which other nodes read too: the
  /// system clock at init plus the actor clock's time since, so that a
  /// stepped system clock does not move soft TTLs and tests can run the
  /// cache in virtual time.
  std::chrono::system_clock::time_point wall_now() const;

  /// Answers every waiter of `f` that is still waiting (with a get_result
  /// or an error) and ends the flight.
  template <class Answer>
  void complete(const flight_ptr& f, const Answer& x);

  /// Ends the flight once nobody waits for it any more.
  void end_flight(const flight_ptr& f);

  void on_redis_failure(const caf::error& err);
  void on_redis_success();

  /// Sends the unsent failures (and a success after them) to the breaker.
  void report_failures(bool then_success);

  void degrade_write(std::string key, std::string stored, caf::timespan ttl);

  /// A set (`stored` non-empty) or invalidate while writes do not go to
  /// Redis: into the fallback and the dirty-key log, answered at once.
  write_result degraded(metric_op which, std::string key, std::string stored,
                        caf::timespan ttl, const std::string& correlation_id);

  /// invalidate_tag without Redis: erase in the fallback, log the tag.
  void degrade_tag(std::string tag);

  // -- coherence ---------------------------------------------------------------

  /// True when this cache publishes and subscribes.
  bool coherent_mode() const {
    return coherent_;
  }

  /// Publishes an invalidation over `conn`, behind the write it describes.
  void publish(const caf::actor& conn, coherence::scope what,
               const std::string& name);

  /// Publishes `keys` in as few messages as the bounds allow (runtime/
  /// coherence: message_full).
  void publish_keys(const caf::actor& conn,
                    const std::vector<const std::string*>& keys);

  /// PUBLISH of one encoded message over `conn`, when coherence is on.
  void send_publish(const caf::actor& conn, std::string payload);

  /// The subscriber slot is up (valid handle) or down.
  void on_subscriber(caf::actor conn);

  /// Whether the answer of `op` may be copied into the fallback.
  bool may_mirror(const operation& op) const {
    return guard_.may_mirror(op.key, op.ticket);
  }

  // -- Redis Cluster -----------------------------------------------------------

  /// True for a cluster redirect (`slot_elsewhere`): asks for a fresh map.
  bool redirected(std::string_view error_text);

  /// On TRYAGAIN or CLUSTERDOWN with time left before its Redis deadline:
  /// `op` waits (10 ms, doubling to 80 ms) and is sent again; false else.
  bool retry_later(const op_ptr& op, std::string_view error_text);

  /// Sends the operations whose wait after TRYAGAIN or CLUSTERDOWN is over.
  void resend_due(time_point now);

  /// The replay's `INFO replication` reply: a new replication id is a new
  /// dataset (see on_dataset).
  void check_dataset(std::string_view info);

  /// On `MOVED` or `ASK` with redirects left (`max_redirects`): hands the
  /// job to the cache actor for the node named (a write's key leaves this
  /// fallback first); an operation's answer comes back here.
  std::optional<caf::delegated<get_result>>
  follow_redirect(get_job& job, std::string_view error_text);
  std::optional<caf::delegated<write_result>>
  follow_redirect(write_job& job, std::string_view error_text);
  bool follow_redirect(const op_ptr& op, std::string_view error_text);

  /// The rule of the three: when the redirect is one to follow, a write's
  /// key leaves the fallback, and the job goes to the cache actor
  /// (`delegated`) or the redirect waits in `redirect_` for the caller.
  template <class Job>
  bool hand_to_cluster(Job& job, std::string_view error_text, bool delegated);
  /// Asks the cache actor for a fresh slot map (redirect, lost connection,
  /// failed attempt, breaker leaving closed).
  void ask_for_slot_map();

  /// The UNLINKs that delete `keys` (prefixed): one command on a single
  /// Redis, one per key on a cluster (one command's keys share a slot).
  std::vector<std::vector<std::string>>
  unlink_commands(std::vector<std::string> keys) const;

  /// True when `reply` to a replay's UNLINK means the keys are gone here.
  bool unlinked(const resp_value& reply);

  /// invalidate_tag on a cluster node: SCAN for its per-slot sets of `tag`,
  /// the script per set; answers {deleted, foreign} or the first error.
  void sweep_tag(const caf::actor& conn, std::string tag,
                 caf::timespan timeout,
                 std::function<void(resp_value&)> on_reply,
                 std::function<void(caf::error&)> on_error);

  // -- recovery --------------------------------------------------------------

  /// Starts a replay when one is needed and allowed.
  void maybe_recover();

  void replay_step(bool probe, caf::actor conn);

  void replay_keys(bool probe, caf::actor conn, dirty_batch batch);

  void flush_namespace(bool probe, caf::actor conn, std::string cursor,
                       dirty_batch batch);
  /// Redis Cluster: deletes this node's keys in `slots_to_flush_`, then
  /// goes on with the replay.
  void flush_slots(bool probe, caf::actor conn);

  /// Notes a replay command's error that is no failure of Redis.
  void excuse_replay(const caf::error& err);
  void replay_done(bool probe, bool ok, const dirty_batch* unreplayed);

  caf::actor any_connection() const;

  /// Answers the ready waiters (readiness was decided).
  void become_ready();

  /// What `ready` answers once decided: the configuration error, or whether
  /// a connection is up.
  caf::expected<bool> ready_answer() const;

  // -- member variables ------------------------------------------------------

  self_pointer self_;
  uint16_t index_ = 0;
  std::function<void(const caf::error&)> stopped_;
  config cfg_;
  std::string redis_redacted_;
  fallback_actor fallback_;
  breaker_actor breaker_;
  caf::actor supervisor_;
  /// Whether the running replay failed for no failure of Redis: a redirect
  /// it cannot follow (Redis Cluster: ASK, TRYAGAIN, CLUSTERDOWN), or a
  /// command the connection shed with this cache's own backlog.
  bool replay_excused_ = false;
  /// No replay on the closed route starts before this (one failed).
  time_point replay_retry_at_{};
  /// Redis Cluster: the cache actor; this node's address; the slots whose
  /// keys are still to be deleted here before it is read.
  cache_internal_actor cluster_;
  host_port node_address_;
  cluster_redirect redirect_;
  slot_set slots_to_flush_;
  /// The slots the cache actor gave this cache (own minus disown).
  slot_set owned_;
  /// Operations waiting to be sent again, and when.
  std::vector<std::pair<time_point, op_ptr>> resends_;
  std::vector<caf::actor> conns_;
  /// Gets for each connection collected during this round of the mailbox
  /// (see collect_get).
  std::vector<get_batch> outbox_;
  /// A flush_atom is on its way to this actor.
  bool flush_due_ = false;
  /// Which slot is up and which carries each key (see key_router).
  key_router router_;
  /// The dataset the connections reached last ("run_id/master_replid").
  std::string dataset_;
  /// What was written to that dataset recently.
  recent_writes recent_;
  /// Coherence: this cache's id in published messages, the channel, the
  /// subscribed connection and whether its SUBSCRIBE is confirmed.
  bool coherent_ = false;
  uint64_t node_id_ = 0;
  std::string channel_;
  caf::actor subscriber_;
  bool subscribed_ = false;
  coherence::mirror_guard guard_;
  std::unordered_map<std::string, flight_ptr> flights_;
  /// Background refreshes under way, with their start time.
  std::unordered_map<std::string, time_point> refreshing_;
  std::mt19937_64 rng_;
  std::chrono::system_clock::time_point wall_base_;
  time_point clock_base_;
  std::vector<bool> ever_connected_;
  caf::error conn_error_;
  /// The last write Redis refused (for example out of memory), for health.
  caf::error last_refusal_;
  /// When spawn_cache may return.
  readiness readiness_;
  std::vector<caf::typed_response_promise<bool>> ready_waiters_;
  breaker_state route_ = breaker_state::closed;
  bool needs_replay_ = false;
  bool replaying_ = false;
  /// The half-open probe of the current half-open period is still to run:
  /// set when the breaker reports half-open, taken by the one probe (the
  /// single-probe rule lives here, not in the breaker).
  bool probe_pending_ = false;
  /// Redis answered the running replay's PING; the replay ends at the next
  /// drain that finds the log empty.
  bool replay_pinged_ = false;
  uint64_t dirty_since_drain_ = 0;
  /// Failures since the last success the breaker heard of.
  bool failure_run_ = false;
  /// Failures not reported to the breaker yet, and whether a reporting
  /// window (one sweep interval) is open.
  uint64_t failures_unsent_ = 0;
  bool reporting_window_ = false;
  uint64_t outstanding_ = 0;
  bool stopping_ = false;
  /// The shutdown's safety net fired: requests still held are left.
  bool gave_up_ = false;
  caf::error stop_reason_;
  deadline_queue<operation> deadlines_;
  bool sweep_scheduled_ = false;
  stats_report stats_;
  latency_histogram latency_;
  /// Counters and histograms of `metrics` beyond `stats_`, read on a scrape.
  std::array<uint64_t, metric_op_count * metric_outcome_count> requests_{};
  std::array<uint64_t, 14> errors_by_code_{};
  std::array<bucket_histogram, metric_op_count> op_latency_;
  bucket_histogram redis_latency_;
  bucket_histogram batch_sizes_;
  logger log_;
  /// One rate limit per kind of per-request warning (`log-burst`).
  log_throttle failed_lines_;
  log_throttle refused_lines_;
};

} // namespace cafcache
