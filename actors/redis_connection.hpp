#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <caf/timespan.hpp>
#include <caf/io/broker.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/job_relay.hpp"
#include "messages/internal.hpp"
#include "messages/metrics_report.hpp"
#include "runtime/redis_info.hpp"
#include "runtime/redis_url.hpp"
#include "runtime/resp.hpp"
#include "runtime/ring_queue.hpp"

namespace cafcache {

/// State of a Redis connection actor: one TCP connection, owned by a CAF io
/// broker. Commands are RESP-encoded into the broker's write buffer as they
/// arrive; CAF writes everything buffered once the socket is writable, so
/// commands that arrive together leave in one pipelined write. Replies come
/// back in command order and are matched FIFO to response promises.
///
/// Interface: `(cmd_atom, std::vector<std::string> argv) -> resp_value`.
/// `(get_atom, get_job) -> get_result` is a client's get the cache delegated:
/// this actor answers the client, reports it to the cache in a batch at its
/// next tick (job_relay), and hands the job back to the cache when Redis
/// fails, the connection is lost, too many requests wait, or Redis has not
/// answered by the job's Redis deadline (checked on a coarse tick while gets
/// wait, not with a timer per request).
/// A Redis error reply is a resp_value of kind error; a lost connection fails
/// every pending request at once with `errc::redis_unavailable`; more than
/// `max_pending` requests in flight are refused with `errc::overloaded`.
/// `(batch_sizes_atom) -> bucket_histogram` hands over the batch sizes counted
/// since the last time (commands per socket write); a closing connection
/// sends the rest to its supervisor as `(batch_sizes_atom, bucket_histogram)`.
/// `(subscribe_atom, actor, node)` names the actor that receives the messages
/// published on channels this connection subscribed to, as `(push_atom,
/// channel, payload)`, except those node `node` published.
class redis_connection_state {
public:
  // -- member types ---------------------------------------------------------

  using promise_type = caf::typed_response_promise<resp_value>;

  // -- constructors ---------------------------------------------------------

  explicit redis_connection_state(
    caf::io::stateful_broker<redis_connection_state>* self)
    : self_(self) {
    // Nothing to do.
  }

  /// Starts the handshake (AUTH, SELECT or PING, then INFO server and INFO
  /// replication) and reports its outcome to `supervisor` as `(hello_atom,
  /// slot, attempt, handle, error, identity)`, `identity` being
  /// `redis_info::identity()`. A handshake still unanswered after
  /// `handshake_timeout` fails with `errc::redis_unavailable` and closes the
  /// socket. After the handshake, a connection whose oldest command waits
  /// `stall_timeout` for its reply is dropped as lost: a server that hangs,
  /// or a socket a middlebox forgot, sends no reset.
  void init(caf::io::connection_handle hdl, caf::actor supervisor,
            uint32_t slot, uint64_t attempt, const redis_endpoint& endpoint,
            uint32_t max_pending, caf::timespan handshake_timeout,
            caf::timespan stall_timeout, cache_internal_actor cache,
            std::string key_prefix, caf::timespan sweep_interval,
            caf::timespan mirror_refresh);

  // -- callbacks for the behavior -------------------------------------------

  /// Encodes and sends one command; the promise is answered with its reply.
  promise_type on_command(const std::vector<std::string>& argv);

  /// Sends a delegated get; its client is answered from the reply.
  job_relay::promise_type on_get(get_job& job);

  /// The gets the cache collected for this connection in one round of its
  /// mailbox: written together, answered like delegated gets.
  void on_gets(get_batch& batch);

  /// Sends a delegated write; its client is answered once Redis applied it.
  job_relay::write_promise on_write(write_job& job);

  /// The round of the mailbox that wrote the keys waiting to be published
  /// is over: publishes them.
  void on_announce();

  /// Timer: sends the cache what was served, drops the connection when its
  /// oldest command waited `stall_timeout`, and hands over the delegated
  /// requests whose Redis deadline passed.
  void on_sweep();

  /// Timer, every `stall_timeout` after the handshake: a connection that
  /// wrote nothing since the last one writes a PING (its reply dropped), so
  /// that a standby of the pool that nobody uses is found dead by the stall
  /// check before it is needed, not after. Not on a subscribed connection.
  void on_idle_check();

  /// `(served_atom) -> bool`: sends the cache what was served so far, ahead
  /// of this reply.
  bool on_report_asked();

  /// Names the actor that receives published messages, and the node id
  /// whose own messages are dropped here (0: none).
  void on_subscriber(caf::actor target, uint64_t own_node) {
    subscriber_ = std::move(target);
    own_node_ = own_node;
  }

  /// Parses received bytes and answers the oldest pending requests.
  void on_data(const std::vector<char>& buf);

  /// Timer: the handshake had until now to finish.
  void on_handshake_deadline();

  /// The Sentinels moved the master to `host:port`: a connection to another
  /// server ends as lost, so that its next attempt resolves the new one.
  void on_failover(const std::string& host, uint16_t port);

  /// Another connection found the server at `address` ("host:port")
  /// demoted: a connection to it ends as lost, like the one that wrote.
  void on_demoted(const std::string& address);

  /// Fails everything pending, closes the socket and terminates.
  void on_closed(caf::error reason);

  /// The socket is gone after the handshake: fails everything pending,
  /// tells the supervisor and, until the cache releases it, fails every
  /// command at once. (CAF 0.17 may drop a request that reaches a broker
  /// that has quit, without an answer: a lingering connection answers
  /// them, so the cache can send them again elsewhere.)
  void on_lost(caf::error reason);

  /// The server is no longer the master: ends this connection as lost with
  /// `why`.
  void follow_failover(std::string why);

  /// The cache sends nothing more: terminates.
  void on_released();

  /// The supervisor is gone: terminates (a moment later while the handshake
  /// runs).
  void on_supervisor_down();

  /// The batch sizes counted since the last call.
  bucket_histogram take_batch_sizes();

  /// The name CAF shows for this actor.
  static inline const char* name = "cafcache.redis_connection";

private:
  /// What a handshake reply answers.
  enum class handshake_step : uint8_t { setup, info_server, info_replication };

  void write(const std::vector<std::string>& argv);

  /// A delegated write of `key` was written for node `node`: the key is
  /// published now when nothing else waits in the mailbox, else with the
  /// other keys written in this round (announce_atom).
  void announce_later(uint64_t node, std::string key);

  /// Writes one PUBLISH (its reply ignored) for the keys not published yet.
  void announce();

  /// Writes `ASKING` (its reply ignored) for the command that follows.
  void ask_next();

  /// Queues the command just written as one whose reply is dropped.
  void wrote_ignored();

  /// Writes one handshake command.
  void write(handshake_step step, const std::vector<std::string>& argv);

  void on_handshake_reply(const resp_value& reply);

  /// One request on the wire, answered FIFO: a command of the cache, or a
  /// delegated get or write (handed over: a get's reply is dropped when it
  /// comes; a write's releases its key).
  struct waiting {
    enum class kind : uint8_t {
      command,
      get,
      write,
      handed_over_get,
      handed_over_write,
      /// A command written behind a delegated write (its PUBLISH): the
      /// reply is dropped.
      ignored
    };
    kind what = kind::command;
    promise_type reply;
    job_relay::promise_type client;
    job_relay::write_promise writer;
    get_job job;
    write_job write;
    caf::actor_clock::time_point sent;
  };

  /// Whether a request can be written now; hands `job` over when not.
  template <class Promise, class Job>
  bool admit(Promise& rp, Job& job);

  /// Queues a delegated request written just now.
  void enqueue(waiting x);

  /// Requests waiting for their reply (max-pending bounds them).
  size_t requests() const {
    return pending_.size() - ignored_;
  }

  /// Sends what was written since the last call.
  void written();

  /// Writes `job`'s GET and queues it for `rp`, or hands it over when it
  /// cannot be written now; leaves the flush to the caller.
  void write_get(job_relay::promise_type& rp, get_job& job);

  /// Reports what was served, fails the cache's commands still waiting
  /// with `reason` and hands their delegated requests back to the cache.
  void fail_pending(const caf::error& reason);

  void schedule_sweep();

  void schedule_idle_check();

  /// Counts the commands of a batch once CAF took it out of the write
  /// buffer.
  void count_batch();

  caf::io::stateful_broker<redis_connection_state>* self_;
  caf::io::connection_handle hdl_;
  caf::actor supervisor_;
  uint32_t slot_ = 0;
  uint64_t attempt_ = 0;
  uint32_t max_pending_ = 0;
  resp_reader reader_;
  std::string scratch_;
  /// The handshake replies still to come, in order.
  std::deque<handshake_step> handshake_;
  redis_info info_;
  ring_queue<waiting> pending_;
  /// Delegated requests in `pending_` not handed over yet.
  size_t jobs_ = 0;
  /// Commands in pending_ whose replies are dropped (PUBLISH and ASKING
  /// written behind a request, the idle check's PING): max-pending counts
  /// requests, not these.
  size_t ignored_ = 0;
  job_relay relay_;
  std::string key_prefix_;
  caf::timespan sweep_interval_{0};
  caf::timespan stall_timeout_{0};
  bool sweep_scheduled_ = false;
  /// Something was written since the last idle check.
  bool wrote_since_check_ = false;
  /// Commands written since CAF last took the write buffer to the socket.
  uint32_t batch_ = 0;
  bucket_histogram batch_sizes_;
  /// Receives `(push_atom, channel, payload)` for every message published on
  /// a subscribed channel.
  caf::actor subscriber_;
  uint64_t own_node_ = 0;
  /// Keys written but not published yet, the node to publish them as, and
  /// whether an announce_atom waits in the mailbox.
  std::vector<std::string> unannounced_;
  size_t unannounced_bytes_ = 0;
  uint64_t announce_as_ = 0;
  bool announce_due_ = false;
  /// The endpoint is Sentinel-managed: a READONLY reply means a failover
  /// demoted this server, and the handshake checks the role.
  bool follow_failover_ = false;
  /// "host:port" of the server, for errors.
  std::string address_;
  /// Where delegated writes are published (coherence::channel).
  std::string channel_;
  /// The socket is gone; commands fail at once with this error.
  caf::error lost_;
};

/// Spawnable behavior of the connection actor (see
/// `caf::io::middleman::spawn_client`).
caf::behavior
redis_connection(caf::io::stateful_broker<redis_connection_state>* self,
                 caf::io::connection_handle hdl, caf::actor supervisor,
                 uint32_t slot, uint64_t attempt, redis_endpoint endpoint,
                 uint32_t max_pending, caf::timespan handshake_timeout,
                 caf::timespan stall_timeout, cache_internal_actor cache,
                 std::string key_prefix, caf::timespan sweep_interval,
                 caf::timespan mirror_refresh);

} // namespace cafcache
