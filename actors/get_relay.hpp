#pragma once

#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/local_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/get_job.hpp"
#include "messages/interfaces.hpp"
#include "runtime/resp.hpp"

namespace cafcache {

/// The delegated gets of one connection actor (Redis or in-memory): answers
/// each client from its reply, hands those Redis could not serve back to the
/// cache, and collects what was served for the cache in one batch.
///
/// Ordering: the answers of a read leave before the batch that reports
/// them: once the cache has the report it may finish a shutdown, and the
/// answers must be on their way by then. Under load the batch waits for the
/// connection's tick; `(served_atom)` asks for it at once (the cache does so
/// before it answers `stats`, so a get answered before is counted). A batch
/// may reach the cache before or after the answers of writes Redis applied
/// around the reads in it; both are safe: a read reported after such a write
/// carries a ticket older than the write's outcome and is not mirrored
/// (coherence::mirror_guard), and one reported before it is overwritten by
/// the write's own update of the fallback.
class get_relay {
public:
  using promise_type = caf::typed_response_promise<get_result>;
  using time_point = caf::actor_clock::time_point;

  get_relay() = default;

  get_relay(caf::local_actor* self, cache_internal_actor cache)
    : self_(self), cache_(std::move(cache)) {
    // Nothing to do.
  }

  /// Prepares the answer to the client of `job` from Redis' `reply` to its
  /// GET written at `sent` (it leaves at `end_read`), or hands the job over
  /// when the reply says that Redis failed.
  void complete(promise_type& rp, get_job& job, resp_value& reply,
                time_point sent);

  /// After the replies of one read: sends the answers, then the batch when
  /// nothing else is waiting (`waiting` gets in flight) or it is full. The
  /// rest of the batch waits for the connection's tick, so that the report
  /// costs one message per many gets under load, not one per read.
  void end_read(size_t waiting);

  /// Gives `job` back to the cache as a request of its client: the cache
  /// sends it over another connection or lets the fallback answer.
  void hand_over(promise_type& rp, get_job& job, caf::error reason);

  /// Sends the cache what was served since the last flush, if anything.
  void flush();

  /// True when served gets wait for a flush.
  bool has_batch() const {
    return !batch_.empty();
  }

  /// Most gets reported in one message.
  static constexpr size_t max_batch = 256;

  /// Whether this relay reports to a cache (a connection spawned without
  /// one, in tests, serves only commands).
  explicit operator bool() const {
    return static_cast<bool>(cache_);
  }

private:
  caf::local_actor* self_ = nullptr;
  cache_internal_actor cache_;
  served_batch batch_;
  std::vector<std::pair<promise_type, get_result>> answers_;
};

} // namespace cafcache
