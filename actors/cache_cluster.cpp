// The cache of one Redis Cluster primary: what differs from a single Redis.
// The cache actor (actors/front) routes each key to the cache of the
// primary that owns its slot and moves slots between these caches when the
// slot map changes; see docs/architecture.md, "Redis Cluster".

#include "actors/cache.hpp"

#include <algorithm>
#include <memory>
#include <type_traits>

#include "messages/errc.hpp"
#include "runtime/cluster_errors.hpp"
#include "runtime/cluster_slots.hpp"
#include "actors/redis_connection.hpp"
#include "runtime/redis_info.hpp"
#include "runtime/commands.hpp"

namespace cafcache {

void cache_state::on_own(caf::actor cluster, bool flush,
                         std::vector<uint16_t> slots) {
  cluster_ = caf::actor_cast<cache_internal_actor>(std::move(cluster));
  auto endpoint = cfg_.endpoint();
  node_address_ = host_port{endpoint.host, endpoint.port};
  owned_.add(slots);
  if (!flush || slots.empty())
    return;
  // The slots' previous owner may have acknowledged writes this node never
  // received (asynchronous replication before a failover, or writes its
  // fallback took while it was unreachable). Deleting this node's keys in
  // those slots before it is read again is the rule that needs no list of
  // them; the fallback may hold entries from an earlier ownership.
  slots_to_flush_.add(slots);
  log_.write(log_level::warn, "slots_acquired",
             {{"redis", redis_redacted_},
              {"slots", std::to_string(slots.size())},
              {"to_flush", std::to_string(slots_to_flush_.size())}});
  self_->send(fallback_, disown_atom::value, std::move(slots));
  guard_.invalidated_all();
  needs_replay_ = true;
  maybe_recover();
}

void cache_state::on_disown(std::vector<uint16_t> slots) {
  for (auto slot : slots)
    owned_.erase(slot);
  log_.write(log_level::info, "slots_released",
             {{"redis", redis_redacted_},
              {"slots", std::to_string(slots.size())}});
  self_->send(fallback_, disown_atom::value, std::move(slots));
  guard_.invalidated_all();
}

void cache_state::flush_slots(bool probe, caf::actor conn) {
  // Up to `parallel` slots at a time; a slot with a full page of keys is
  // asked again (CLUSTER GETKEYSINSLOT returns at most `page` of them, and
  // has no cursor). A full page with keys of others would come back the
  // same forever: that slot is left to a flush of the whole namespace on
  // this node (SCAN MATCH prefix*), which deletes its keys of ours too.
  constexpr size_t parallel = 64;
  constexpr size_t page = 1000;
  struct join_state {
    size_t left = 0;
    bool ok = true;
    bool flush_namespace = false;
    std::vector<uint16_t> done;
    /// The first error reply, for the log.
    std::string refusal;
  };
  auto join = std::make_shared<join_state>();
  auto batch = slots_to_flush_.peek(parallel);
  join->left = batch.size();
  auto finish = [=](uint16_t slot, bool ok, bool complete) {
    join->ok = join->ok && ok;
    if (ok && complete)
      join->done.push_back(slot);
    if (--join->left > 0)
      return;
    for (auto x : join->done) {
      slots_to_flush_.erase(x);
      ++stats_.slots_flushed;
    }
    if (join->flush_namespace) {
      // After the slots: the drain finds the log overflowed.
      dirty_batch everything;
      everything.overflowed = true;
      ++dirty_since_drain_;
      self_->send(fallback_, dirty_atom::value, std::move(everything));
    }
    if (!join->ok) {
      log_.write(log_level::warn, "slots_flush_failed",
                 {{"redis", redis_redacted_},
                  {"slots", std::to_string(slots_to_flush_.size())},
                  {"error", join->refusal}});
      replay_done(probe, false, nullptr);
      return;
    }
    replay_step(probe, conn);
  };
  for (auto slot : batch) {
    std::vector<std::string> argv{"CLUSTER", "GETKEYSINSLOT",
                                  std::to_string(slot), std::to_string(page)};
    self_->request(conn, cfg_.probe_timeout, cmd_atom::value, std::move(argv))
      .then(
        [=](resp_value& reply) {
          if (reply.type != resp_value::kind::array) {
            if (join->refusal.empty())
              join->refusal = reply.is_error() ? reply.str : "no list of keys";
            finish(slot, false, false);
            return;
          }
          auto complete = reply.elements.size() < page;
          // Only our keys: the prefix is the namespace.
          std::vector<std::string> keys;
          for (auto& key : reply.elements)
            if (key.str.compare(0, cfg_.key_prefix.size(), cfg_.key_prefix)
                == 0)
              keys.push_back(std::move(key.str));
          if (!complete && keys.size() < reply.elements.size()) {
            join->flush_namespace = true;
            complete = true;
          }
          if (keys.empty()) {
            finish(slot, true, complete);
            return;
          }
          stats_.replayed_keys += keys.size();
          auto unlinks = unlink_commands(std::move(keys));
          auto left = std::make_shared<size_t>(unlinks.size());
          auto ok = std::make_shared<bool>(true);
          for (auto& cmd : unlinks)
            self_->request(conn, cfg_.probe_timeout, cmd_atom::value,
                           std::move(cmd))
              .then(
                [=](resp_value& r) {
                  *ok = *ok && unlinked(r);
                  if (--*left == 0)
                    finish(slot, *ok, complete);
                },
                [=](caf::error& err) {
                  excuse_replay(err);
                  *ok = false;
                  if (--*left == 0)
                    finish(slot, false, false);
                });
        },
        [=](caf::error& err) {
          excuse_replay(err);
          finish(slot, false, false);
        });
  }
}

void cache_state::check_dataset(std::string_view info) {
  auto replid = info_field(info, "master_replid");
  auto slash = dataset_.find('/');
  if (replid.empty() || slash == std::string::npos)
    return;
  on_dataset(dataset_.substr(0, slash + 1) + replid);
}

void cache_state::on_bounds(uint64_t entries, uint64_t bytes) {
  self_->send(fallback_, bounds_atom::value, entries, bytes);
}

bool cache_state::retry_later(const op_ptr& op, std::string_view error_text) {
  if (!cluster_ || !try_later(error_text))
    return false;
  auto wait = std::chrono::milliseconds(10) * (1 << std::min<int>(op->retries, 3));
  auto now = self_->clock().now();
  if (now + wait >= op->redis_deadline)
    return false;
  ++op->retries;
  op->waiting = true;
  op->in_redis = true;
  resends_.emplace_back(now + wait, op);
  return true;
}

void cache_state::resend_due(time_point now) {
  auto due = std::stable_partition(resends_.begin(), resends_.end(),
                                   [now](const auto& x) {
                                     return x.first > now;
                                   });
  std::vector<op_ptr> ops;
  for (auto i = due; i != resends_.end(); ++i)
    ops.push_back(std::move(i->second));
  resends_.erase(due, resends_.end());
  for (auto& op : ops) {
    // The Redis deadline may have handed it to the fallback meanwhile.
    if (!op->waiting || op->settled)
      continue;
    op->waiting = false;
    op->in_redis = false;
    dispatch(op);
  }
}

bool cache_state::redirected(std::string_view error_text) {
  if (!slot_elsewhere(error_text))
    return false;
  ask_for_slot_map();
  return true;
}

void cache_state::ask_for_slot_map() {
  // The cache actor spaces the fetches; this is one message per event.
  if (cluster_)
    self_->send(cluster_, refresh_atom::value);
}

std::vector<std::vector<std::string>>
cache_state::unlink_commands(std::vector<std::string> keys) const {
  std::vector<std::vector<std::string>> result;
  if (keys.empty())
    return result;
  if (!cluster_) {
    result.emplace_back();
    result.back().reserve(keys.size() + 1);
    result.back().push_back("UNLINK");
    for (auto& key : keys)
      result.back().push_back(std::move(key));
    return result;
  }
  result.reserve(keys.size());
  for (auto& key : keys)
    result.push_back({"UNLINK", std::move(key)});
  return result;
}

bool cache_state::unlinked(const resp_value& reply) {
  if (!reply.is_error())
    return true;
  // MOVED only: the slot's new owner deleted its keys in the slot when it
  // took it over. An ASK means the key may sit on the importing node, with
  // the migration not done; TRYAGAIN and CLUSTERDOWN mean later: the
  // replay tries again, and the node is not blamed for it.
  if (!cluster_ || !slot_elsewhere(reply.str))
    return false;
  auto hop = parse_redirect(reply.str, node_address_);
  if (hop && hop->what == cluster_redirect::kind::moved)
    return true;
  replay_excused_ = true;
  return false;
}

void cache_state::sweep_tag(const caf::actor& conn, std::string tag,
                            caf::timespan timeout,
                            std::function<void(resp_value&)> on_reply,
                            std::function<void(caf::error&)> on_error) {
  // A tag has one set per slot on a cluster (commands::tag_layout): the
  // sets of this node are found with SCAN, a page at a time, and each is
  // invalidated by the script of a single Redis, in its own slot.
  struct sweep {
    std::string pattern;
    int64_t deleted = 0;
    int64_t foreign = 0;
    size_t pending = 0;
    std::string next;
    std::optional<resp_value> refusal;
    bool finished = false;
    std::function<void(resp_value&)> on_reply;
    std::function<void(caf::error&)> on_error;
  };
  auto state = std::make_shared<sweep>();
  state->pattern = commands::slot_tag_sets_pattern(cfg_.key_prefix, tag);
  state->on_reply = std::move(on_reply);
  state->on_error = std::move(on_error);
  auto page = std::make_shared<std::function<void(std::string)>>();
  // The page's scripts are all answered: the next page, or the answer.
  auto fail = [state, page](caf::error& err) {
    // The first transport error answers; what comes after is dropped.
    if (state->finished)
      return;
    state->finished = true;
    *page = nullptr;
    state->on_error(err);
  };
  auto page_done = [state, page] {
    if (state->finished)
      return;
    if (state->refusal) {
      state->on_reply(*state->refusal);
    } else if (state->next != "0") {
      (*page)(state->next);
    } else {
      resp_value answer;
      answer.type = resp_value::kind::array;
      answer.elements.resize(2);
      answer.elements[0].type = resp_value::kind::integer;
      answer.elements[0].integer = state->deleted;
      answer.elements[1].type = resp_value::kind::integer;
      answer.elements[1].integer = state->foreign;
      state->on_reply(answer);
    }
    // The last page: the closure goes, and the cycle through it.
    if (state->refusal || state->next == "0") {
      state->finished = true;
      *page = nullptr;
    }
  };
  *page = [this, conn, timeout, tag = std::move(tag), state, page_done,
           fail](std::string cursor) {
    std::vector<std::string> argv{"SCAN",  std::move(cursor), "MATCH",
                                  state->pattern, "COUNT", "1000"};
    self_->request(conn, timeout, cmd_atom::value, std::move(argv))
      .then(
        [this, conn, timeout, tag, state, page_done,
         fail](resp_value& reply) {
          if (reply.type != resp_value::kind::array
              || reply.elements.size() != 2) {
            if (!reply.is_error()) {
              reply.type = resp_value::kind::error;
              reply.str = "ERR unexpected reply to SCAN";
            }
            state->refusal = std::move(reply);
            page_done();
            return;
          }
          state->next = std::move(reply.elements[0].str);
          std::vector<std::string> sets;
          for (auto& key : reply.elements[1].elements)
            if (commands::is_slot_tag_set(cfg_.key_prefix, tag, key.str))
              sets.push_back(std::move(key.str));
          if (sets.empty()) {
            page_done();
            return;
          }
          state->pending = sets.size();
          for (auto& set_key : sets)
            self_->request(conn, timeout, cmd_atom::value,
                           commands::invalidate_tag_set(cfg_.key_prefix,
                                                        std::move(set_key)))
              .then(
                [state, page_done](resp_value& r) {
                  if (r.is_error()) {
                    if (!state->refusal)
                      state->refusal = std::move(r);
                  } else if (r.type == resp_value::kind::array
                             && r.elements.size() == 2) {
                    state->deleted += r.elements[0].integer;
                    state->foreign += r.elements[1].integer;
                  }
                  if (--state->pending == 0)
                    page_done();
                },
                fail);
        },
        fail);
  };
  (*page)("0");
}

namespace {

/// The redirect of a delegated request, when it is one to follow.
template <class Job>
std::optional<cluster_redirect> to_follow(const Job& job, bool in_cluster,
                                          std::string_view text,
                                          const host_port& here) {
  if (!in_cluster || job.redirects >= max_redirects)
    return std::nullopt;
  return parse_redirect(text, here);
}

/// The job of an operation that goes to another node (its deadlines).
template <class Job, class Operation>
Job job_of(const Operation& op) {
  Job job;
  job.key = op.key;
  job.correlation_id = op.correlation_id;
  job.start = op.start.time_since_epoch();
  job.deadline = op.deadline.time_since_epoch();
  job.redis_deadline = op.redis_deadline.time_since_epoch();
  return job;
}

} // namespace

template <class Job>
bool cache_state::hand_to_cluster(Job& job, std::string_view error_text,
                                  bool delegated) {
  auto hop = to_follow(job, static_cast<bool>(cluster_), error_text,
                       node_address_);
  if (!hop)
    return false;
  if constexpr (std::is_same_v<Job, write_job>) {
    // The write was not applied here and goes to another node: this
    // fallback must not keep an older value of the key to serve later.
    self_->send(fallback_, delete_atom::value, job.key, false);
    guard_.invalidated(job.key);
  }
  if (delegated) {
    // Still this node cache's until the cache actor routed it: a shutdown
    // does not end with it in the mailbox.
    ++outstanding_;
    self_->delegate(cluster_, redirect_atom::value, std::move(job),
                    std::move(hop->target.host), hop->target.port,
                    hop->what == cluster_redirect::kind::ask, index_);
  } else
    redirect_ = std::move(*hop);
  return true;
}

std::optional<caf::delegated<get_result>>
cache_state::follow_redirect(get_job& job, std::string_view error_text) {
  if (!hand_to_cluster(job, error_text, true))
    return std::nullopt;
  return caf::delegated<get_result>{};
}

std::optional<caf::delegated<write_result>>
cache_state::follow_redirect(write_job& job, std::string_view error_text) {
  if (!hand_to_cluster(job, error_text, true))
    return std::nullopt;
  return caf::delegated<write_result>{};
}

bool cache_state::follow_redirect(const op_ptr& op,
                                  std::string_view error_text) {
  auto now = self_->clock().now();
  // Tagged writes stay here: the node named would store no tag sets.
  if (!cluster_ || op->what == operation::kind::invalidate_tag
      || !op->tags.empty() || op->redis_deadline <= now)
    return false;
  // The Redis deadline still stands: past it, the fallback answers here and
  // a late answer from the other node is dropped.
  auto limit = op->deadline - now;
  auto settle = [op] {
    auto waiting = op->in_redis;
    op->in_redis = false;
    return waiting;
  };
  auto ask_cluster = [&](auto job, auto on_answer) {
    if (!hand_to_cluster(job, error_text, false))
      return false;
    job.redirects = 1;
    op->in_redis = true;
    auto hop = std::move(redirect_);
    self_->request(cluster_, limit, redirect_atom::value, std::move(job),
                   std::move(hop.target.host), hop.target.port,
                   hop.what == cluster_redirect::kind::ask, no_node)
      .then(on_answer, [this, op, settle](caf::error&) {
        if (settle())
          redis_failed(op);
      });
    return true;
  };
  if (op->what == operation::kind::get)
    return ask_cluster(job_of<get_job>(*op), [this, op, settle](get_result& x) {
      if (settle())
        answer(op, std::move(x));
    });
  auto job = job_of<write_job>(*op);
  job.stored = op->stored;
  job.ttl = op->ttl;
  return ask_cluster(std::move(job), [this, op, settle](write_result& x) {
    if (settle())
      answer(op, x);
  });
}

caf::result<get_result> cache_state::on_routed(get_job& job) {
  // A ticket of this actor's guard: the one taken elsewhere means nothing
  // here.
  job.ticket = guard_.ticket();
  job.attempts = 0;
  if (auto delegated = delegate_get(job, self_->clock().now()))
    return *delegated;
  return delegate_to_fallback(job, false);
}

caf::result<write_result> cache_state::on_routed(write_job& job) {
  job.ticket = guard_.ticket();
  job.attempts = 0;
  auto now = self_->clock().now();
  if (auto delegated = delegate_write(job, now))
    return *delegated;
  if (!job.asking) {
    // A MOVED moved the key's slot here in the slot table: the write is
    // this node's and takes the path of any write here (to the fallback
    // and the dirty-key log while no connection is up yet, as right after
    // a failover, when this cache was just spawned).
    auto what = job.stored.empty() ? operation::kind::invalidate
                                   : operation::kind::set;
    auto left = time_point{job.deadline} - now;
    auto op = start(what, std::move(job.key),
                    std::max<caf::timespan>(left, std::chrono::milliseconds(1)));
    op->correlation_id = std::move(job.correlation_id);
    op->write_rp = self_->make_response_promise<write_result>();
    op->ttl = job.ttl;
    op->stored = std::move(job.stored);
    dispatch(op);
    return op->write_rp;
  }
  // After an ASK, not to this fallback: the slot map still names another
  // node for the key, whose Redis the next read asks. Not acknowledged, so
  // not lost.
  auto which = job.stored.empty() ? metric_op::invalidate : metric_op::set;
  return refuse(which,
                make_error(errc::redis_unavailable,
                           "the Redis Cluster node the write was redirected "
                           "to cannot take it now"),
                job.correlation_id);
}

} // namespace cafcache
