#pragma once

// A scripted fake Redis Cluster node for tests: an in-process RESP server on
// 127.0.0.1 (a free port, bound as port 0) that answers what the cache's
// connection handshake, its slot-map fetch and its replay send, keeps a tiny
// key/value store for GET/SET/UNLINK, and lets a test script any other
// answer: a `MOVED`, an `ASK`, a `CLUSTERDOWN`, a partial `CLUSTER SLOTS`,
// or no answer at all. It records every command it receives, so that a test
// can count what reached it. Made for the redirect and error cases that a
// real cluster produces only by chance (tests/cluster_fake.test.cpp).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace cafcache {

/// Raw RESP2 reply bytes, for the handlers of a fake_node.
namespace fake_resp {

/// `+OK`.
std::string ok();

/// A simple string: `+text`.
std::string status(std::string_view text);

/// An error reply: `-text` (text without the leading '-').
std::string error(std::string_view text);

/// An integer: `:n`.
std::string integer(long long n);

/// A bulk string: `$len` and the bytes.
std::string bulk(std::string_view bytes);

/// The nil bulk string: `$-1`.
std::string nil();

/// An array of replies that are already encoded (by the functions here).
std::string array(const std::vector<std::string>& encoded);

/// An array of bulk strings.
std::string bulk_array(const std::vector<std::string>& items);

} // namespace fake_resp

/// One range of hash slots and the primary that serves it.
struct fake_slot_range {
  uint16_t first = 0;
  uint16_t last = 0;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

/// The `CLUSTER SLOTS` reply for `ranges`: one `[first, last, [host, port,
/// id]]` entry each, the id made of the port.
std::string cluster_slots_reply(const std::vector<fake_slot_range>& ranges);

/// A fake Redis Cluster node on its own thread (one poll loop for the
/// listening socket and every connection).
///
/// Each command goes to the handler first; when it returns an empty string
/// the default answer follows: `PING` (PONG), `AUTH`, `SELECT`, `ASKING`,
/// `READONLY`, `CLIENT ...` (+OK), `INFO` (a fixed run_id, role master and a
/// fixed master_replid), `SUBSCRIBE` (one confirmation per channel),
/// `PUBLISH` (:0), `CLUSTER SLOTS` (the scripted map, by default every slot
/// on this node), `CLUSTER GETKEYSINSLOT` (empty), other `CLUSTER ...`
/// (+OK), `SCAN` (cursor 0, no keys), `GET`, `SET` (options ignored), `UNLINK`,
/// `DEL`, `EXISTS`, `DBSIZE` on the store, `-ERR unknown command` otherwise.
/// The handler runs on the fake's thread: it must not block.
class fake_node {
public:
  using handler_type
    = std::function<std::string(const std::vector<std::string>& argv)>;

  /// Listens on a free loopback port and starts the thread. Throws
  /// std::runtime_error when it cannot listen.
  fake_node();

  /// Stops the thread and closes every socket.
  ~fake_node();

  fake_node(const fake_node&) = delete;
  fake_node& operator=(const fake_node&) = delete;

  // -- properties -------------------------------------------------------------

  /// The port it listens on.
  uint16_t port() const noexcept {
    return port_;
  }

  /// "127.0.0.1:<port>".
  std::string address() const;

  // -- script -----------------------------------------------------------------

  /// Replaces the handler (thread-safe; an empty function: defaults only).
  void set_handler(handler_type handler);

  /// The reply to `CLUSTER SLOTS` from now on (see cluster_slots_reply).
  void set_slots(std::string reply);

  /// Stores `value` under `key` (the full Redis key, prefix included).
  void put(const std::string& key, std::string value);

  /// While on, connections are accepted and commands read and recorded, but
  /// nothing is answered (a node that accepts TCP and hangs). Turned off,
  /// new connections are answered again; one that sent a command meanwhile
  /// never is (its replies would be out of step).
  void set_silent(bool on);

  /// Closes the listening socket and every connection and ends the thread:
  /// from then on nothing listens on the port. Idempotent.
  void stop();

  // -- observation ------------------------------------------------------------

  /// Every command received so far, in order (thread-safe copy).
  std::vector<std::vector<std::string>> received() const;

  /// How many commands named `name` (case-insensitive) were received, with
  /// first argument `arg` when given.
  size_t count(std::string_view name, std::string_view arg = {}) const;

  /// Connections accepted so far.
  size_t connections() const noexcept {
    return accepted_.load();
  }

  /// Forgets the commands received so far.
  void clear_received();

private:
  struct client;

  void run();
  std::string answer(const std::vector<std::string>& argv);
  std::string default_answer(const std::vector<std::string>& argv);

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> silent_{false};
  std::atomic<size_t> accepted_{0};
  std::thread thread_;
  mutable std::mutex mtx_;
  handler_type handler_;
  std::string slots_;
  std::map<std::string, std::string> store_;
  std::vector<std::vector<std::string>> received_;
};

} // namespace cafcache
