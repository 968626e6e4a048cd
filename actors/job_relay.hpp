#pragma once

#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/local_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/internal.hpp"
#include "runtime/mirror_memo.hpp"
#include "runtime/resp.hpp"

namespace cafcache {

/// The delegated requests of one connection actor (Redis or in-memory):
/// answers each client from its reply, hands those Redis could not serve
/// back to the cache, and collects what was served for the cache in one
/// batch, in the order Redis answered.
///
/// Ordering, where it is enforced:
/// - A read whose batch holds only gets: the answers leave first, the batch
///   after them, at the connection's tick (or at once where there is no
///   tick, or when the batch is full). Once the cache
///   has a report it may finish a shutdown, and the answers must be on
///   their way by then. `(served_atom)` asks for the batch at once (the
///   cache does so before it answers `stats`, so a get answered before is
///   counted).
/// - A read that completed a write: the batch leaves first, the answers
///   after it. The client's next request reaches the cache after the
///   report, so the fallback has the write before anything the cache sends
///   it for that request: an acknowledged write is never followed by an
///   older value from the fallback.
/// - A get reported after a write Redis applied around it carries a ticket
///   older than the write's outcome and is not mirrored
///   (coherence::mirror_guard); one reported before it is overwritten by the
///   write's own entry, later in the same or a later batch.
class job_relay {
public:
  /// A get's client, answered with a `get_result`. Untyped, so that the
  /// promise of a get that came in a `get_batch` can be answered too.
  using promise_type = caf::response_promise;
  using write_promise = caf::typed_response_promise<write_result>;
  using time_point = caf::actor_clock::time_point;

  job_relay() = default;

  /// Reports to `cache`; a value sent for the fallback is not sent again
  /// within `mirror_refresh` while unchanged (0: always sent).
  job_relay(caf::local_actor* self, cache_internal_actor cache,
            caf::timespan mirror_refresh = caf::timespan{0})
    : self_(self),
      cache_(std::move(cache)),
      memo_(mirror_refresh.count() > 0 ? memo_slots : 0, mirror_refresh) {
    // Nothing else to do.
  }

  /// Calls `serve(promise, job)` for each get of `batch`, with the promise
  /// answered by `self` (the connection) instead of the cache that
  /// collected it, as a delegated get would be.
  template <class F>
  static void each_get(caf::local_actor* self, get_batch& batch, F serve) {
    for (auto& x : batch) {
      auto rp = promise_of(self, x);
      serve(rp, x.job);
    }
  }

  /// Prepares the answer to the client of `job` from Redis' `reply` to its
  /// GET written at `sent` (it leaves at `end_read`), or hands the job over
  /// when the reply says that Redis failed.
  void complete(promise_type& rp, get_job& job, resp_value& reply,
                time_point sent);

  /// The same for a write: its SET or UNLINK was applied unless `reply` is
  /// an error, which hands the job back (the cache deletes the key behind a
  /// refused set).
  void complete(write_promise& rp, write_job& job, resp_value& reply,
                time_point sent);

  /// A write handed back at its Redis deadline left the pipeline.
  void released(write_job& job);

  /// After the replies of one read: sends the answers, and the batch (see
  /// the ordering above) when `report` or when it is full. Otherwise the
  /// batch waits for the connection's tick, so that the report costs one
  /// message per many requests, not one per read. (A report per read also
  /// woke a second CAF worker for every GET at one request in flight:
  /// 72 against 59 us of CPU per GET, docs/benchmarks.md.)
  void end_read(bool report);

  /// Gives `job` back to the cache as a request of its client: the cache
  /// sends it over another connection or lets the fallback answer.
  void hand_over(promise_type& rp, get_job& job, caf::error reason);

  /// The same for a write: the cache retries it elsewhere, deletes the key
  /// behind a refusal, or writes the fallback and the dirty log.
  void hand_over(write_promise& rp, write_job& job, caf::error reason);

  /// Sends the cache what was served since the last flush, if anything.
  void flush();

  /// True when served requests wait for a flush.
  bool has_batch() const {
    return !batch_.empty();
  }

  /// Most requests reported in one message.
  static constexpr size_t max_batch = 256;

  /// Keys whose last value sent for the fallback a relay remembers.
  static constexpr size_t memo_slots = 16384;

  /// Whether this relay reports to a cache (a connection spawned without
  /// one, in tests, serves only commands).
  explicit operator bool() const {
    return static_cast<bool>(cache_);
  }

private:
  static promise_type promise_of(caf::local_actor* self, batched_get& x);

  /// An answer prepared during a read: to a get, or to a write.
  struct answer {
    bool is_write = false;
    promise_type get;
    get_result got;
    write_promise write;
    write_result wrote;
  };

  caf::local_actor* self_ = nullptr;
  cache_internal_actor cache_;
  served_batch batch_;
  std::vector<answer> answers_;
  /// The values sent for the fallback lately.
  mirror_memo memo_;
  /// A write was completed since the last end_read.
  bool wrote_ = false;
};

} // namespace cafcache
