// Recovery: the dirty-key replay that runs before the cache routes to Redis
// again, as the half-open probe and once more when the breaker closes (see
// actors/cache.hpp).

#include "actors/cache.hpp"

#include <functional>
#include <memory>

#include "messages/errc.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

namespace {

/// Keys per UNLINK during a replay.
constexpr uint32_t replay_batch = 1000;


} // namespace

// -- recovery -----------------------------------------------------------------

void cache_state::maybe_recover() {
  if (replaying_ || stopping_)
    return;
  if (route_ == breaker_state::half_open && probe_pending_) {
    probe_pending_ = false;
    auto conn = any_connection();
    if (!conn) {
      self_->send(breaker_, probe_atom::value, false);
      return;
    }
    replaying_ = true;
    replay_pinged_ = false;
    replay_step(true, conn);
    return;
  }
  // After a failed replay the next one waits for the recover timer: while
  // the connections shed load, each degraded write would start another.
  if (route_ == breaker_state::closed && needs_replay_
      && self_->clock().now() >= replay_retry_at_) {
    if (auto conn = any_connection()) {
      replaying_ = true;
      replay_pinged_ = false;
      replay_step(false, conn);
    }
  }
}

void cache_state::replay_step(bool probe, caf::actor conn) {
  // Slots this node took over first: their keys may be older than what
  // their previous owner acknowledged.
  if (!slots_to_flush_.empty()) {
    flush_slots(probe, conn);
    return;
  }
  dirty_since_drain_ = 0;
  self_->request(fallback_, cfg_.probe_timeout, drain_atom::value,
                 replay_batch)
    .then(
      [=](dirty_batch& batch) {
        if (batch.overflowed) {
          flush_namespace(probe, conn, "0", std::move(batch));
          return;
        }
        if (!batch.keys.empty() || !batch.tags.empty()) {
          replay_keys(probe, conn, std::move(batch));
          return;
        }
        if (dirty_since_drain_ > 0) {
          replay_step(probe, conn);
          return;
        }
        // Log empty and nothing degraded since the drain was asked for:
        // every degraded write went to the fallback before the drain, so
        // Redis holds no value older than an acknowledged write.
        if (replay_pinged_) {
          replay_done(probe, true, nullptr);
          return;
        }
        // A PING proves Redis answers. Writes degraded while it travels are
        // in the log again, so a last drain follows it. On a cluster it is
        // INFO replication: a node promoted or demoted since the cache
        // connected has another replication id, another dataset.
        auto ping = cluster_ ? std::vector<std::string>{"INFO", "replication"}
                             : std::vector<std::string>{"PING"};
        self_->request(conn, cfg_.probe_timeout, cmd_atom::value,
                       std::move(ping))
          .then(
            [=](resp_value& reply) {
              if (reply.is_error()) {
                replay_done(probe, false, nullptr);
                return;
              }
              if (cluster_)
                check_dataset(reply.str);
              replay_pinged_ = true;
              replay_step(probe, conn);
            },
            [=](caf::error& err) {
              excuse_replay(err);
              replay_done(probe, false, nullptr);
            });
      },
      [=](caf::error&) {
        // The fallback may have drained the log and answered too late: those
        // keys are no longer named anywhere. Only a namespace flush is sure
        // to delete them, so the log is marked overflowed (the marker
        // arrives after the drain: messages between two actors keep their
        // order).
        dirty_batch lost;
        lost.overflowed = true;
        replay_done(probe, false, &lost);
      });
}

void cache_state::replay_keys(bool probe, caf::actor conn, dirty_batch batch) {
  // Each key is deleted over the connection that carries its writes, so a
  // write still queued in Redis is applied before the delete, never after.
  std::vector<std::vector<std::string>> per_slot(conns_.size());
  std::vector<std::vector<const std::string*>> published(conns_.size());
  for (auto& key : batch.keys) {
    auto slot = router_.owner(key).value_or(router_.active());
    per_slot[slot].push_back(redis_key(key));
    published[slot].push_back(&key);
    recent_.key(key, self_->clock().now());
  }
  struct join_state {
    size_t left = 0;
    bool ok = true;
    dirty_batch batch;
  };
  // Per connection slot, the commands that go over it.
  std::vector<std::vector<std::vector<std::string>>> commands(conns_.size());
  for (size_t slot = 0; slot < per_slot.size(); ++slot)
    commands[slot] = unlink_commands(std::move(per_slot[slot]));
  // A tag's script runs on one connection (on a cluster, the sweep of its
  // per-slot sets).
  for (auto& tag : batch.tags) {
    if (!cluster_)
      commands.push_back({commands::invalidate_tag(cfg_.key_prefix, tag)});
    recent_.tag(tag, self_->clock().now());
  }
  auto join = std::make_shared<join_state>();
  join->batch = std::move(batch);
  for (auto& list : commands)
    join->left += list.size();
  if (cluster_)
    join->left += join->batch.tags.size();
  auto done = [=](bool ok) {
    join->ok = join->ok && ok;
    if (--join->left > 0)
      return;
    if (!join->ok) {
      replay_done(probe, false, &join->batch);
      return;
    }
    stats_.replayed_keys += join->batch.keys.size();
    stats_.replayed_tags += join->batch.tags.size();
    replay_step(probe, conn);
  };
  if (cluster_)
    for (auto& tag : join->batch.tags)
      sweep_tag(
        conn, tag, cfg_.probe_timeout,
        [=](resp_value& reply) { done(unlinked(reply)); },
        [=](caf::error& err) {
          excuse_replay(err);
          done(false);
        });
  for (size_t slot = 0; slot < commands.size(); ++slot) {
    if (commands[slot].empty())
      continue;
    auto target = slot < conns_.size() && router_.is_up(slot) ? conns_[slot]
                                                              : conn;
    for (auto& argv : commands[slot])
      self_->request(target, cfg_.probe_timeout, cmd_atom::value,
                     std::move(argv))
        .then([=](resp_value& reply) { done(unlinked(reply)); },
              [=](caf::error& err) {
                excuse_replay(err);
                done(false);
              });
    // Other nodes drop what this node changed while it could not publish.
    if (slot < published.size())
      publish_keys(target, published[slot]);
  }
  for (auto& tag : join->batch.tags)
    publish(conn, coherence::scope::tag, tag);
}

void cache_state::flush_namespace(bool probe, caf::actor conn,
                                  std::string cursor, dirty_batch batch) {
  std::vector<std::string> argv{"SCAN", std::move(cursor), "MATCH",
                                commands::glob_escape(cfg_.key_prefix) + "*", "COUNT",
                                "1000"};
  self_->request(conn, cfg_.probe_timeout, cmd_atom::value, std::move(argv))
    .then(
      [=](resp_value& reply) mutable {
        if (reply.type != resp_value::kind::array
            || reply.elements.size() != 2) {
          replay_done(probe, false, &batch);
          return;
        }
        auto next = reply.elements[0].str;
        auto& found = reply.elements[1].elements;
        auto continue_scan = [=]() mutable {
          if (next == "0") {
            ++stats_.namespace_flushes;
            recent_.everything(self_->clock().now());
            publish(conn, coherence::scope::all, std::string{});
            batch.overflowed = false;
            if (batch.keys.empty() && batch.tags.empty())
              replay_step(probe, conn);
            else
              replay_keys(probe, conn, std::move(batch));
          } else {
            flush_namespace(probe, conn, next, std::move(batch));
          }
        };
        if (found.empty()) {
          continue_scan();
          return;
        }
        std::vector<std::string> keys;
        keys.reserve(found.size());
        for (auto& key : found)
          keys.push_back(std::move(key.str));
        stats_.replayed_keys += found.size();
        // The scan goes on once every UNLINK of this page is answered.
        struct page_state {
          size_t left = 0;
          bool ok = true;
          std::function<void()> next;
          std::function<void()> failed;
        };
        auto page = std::make_shared<page_state>();
        auto unlinks = unlink_commands(std::move(keys));
        page->left = unlinks.size();
        page->next = std::move(continue_scan);
        page->failed = [=]() mutable { replay_done(probe, false, &batch); };
        auto done = [page](bool ok) {
          page->ok = page->ok && ok;
          if (--page->left > 0)
            return;
          if (page->ok)
            page->next();
          else
            page->failed();
        };
        for (auto& argv : unlinks)
          self_->request(conn, cfg_.probe_timeout, cmd_atom::value,
                         std::move(argv))
            .then([=](resp_value& r) { done(unlinked(r)); },
                  [=](caf::error& err) {
                    excuse_replay(err);
                    done(false);
                  });
      },
      [=](caf::error& err) mutable {
        excuse_replay(err);
        replay_done(probe, false, &batch);
      });
}

void cache_state::excuse_replay(const caf::error& err) {
  // The connection shed the replay's command with this cache's own backlog
  // (max-pending): the replay is tried again, and Redis did not fail.
  if (is(err, errc::overloaded)) {
    ++stats_.shed_requests;
    replay_excused_ = true;
  }
}

void cache_state::replay_done(bool probe, bool ok,
                              const dirty_batch* unreplayed) {
  replaying_ = false;
  log_.write(ok ? log_level::info : log_level::warn, "replay",
             {{"outcome", ok ? "done" : "failed"},
              {"redis", redis_redacted_},
              {"probe", probe ? "true" : "false"},
              {"replayed_keys_total", std::to_string(stats_.replayed_keys)},
              {"replayed_tags_total", std::to_string(stats_.replayed_tags)},
              {"namespace_flushes_total",
               std::to_string(stats_.namespace_flushes)}});
  if (unreplayed != nullptr
      && (unreplayed->overflowed || !unreplayed->keys.empty()
          || !unreplayed->tags.empty()))
    self_->send(fallback_, dirty_atom::value, *unreplayed);
  if (ok)
    needs_replay_ = false;
  if (probe) {
    self_->send(breaker_, probe_atom::value, ok);
  } else if (!ok) {
    if (!replay_excused_)
      on_redis_failure(make_error(errc::redis_unavailable, "replay failed"));
    replay_retry_at_ = self_->clock().now() + cfg_.reconnect_min;
    self_->delayed_send(self_, cfg_.reconnect_min, recover_atom::value,
                        index_);
  }
  replay_excused_ = false;
  if (ok)
    maybe_recover();
}

} // namespace cafcache
