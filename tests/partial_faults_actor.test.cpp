// The cache actor against scripted connections in virtual time: replies held
// back, connections lost mid-request, one slot of the pool down. Each case
// steps through a race that a real Redis produces only by chance.

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/front.hpp"
#include "actors/job_relay.hpp"
#include "messages/errc.hpp"
#include "runtime/codec.hpp"
#include "actors/module.hpp"
#include "tests/virtual_time.hpp"

using namespace cafcache;
using namespace cafcache::test;
using namespace std::chrono_literals;

namespace {

/// The fake connection -> itself (sent by the test): answer the held
/// requests now.
using deliver_held_atom = caf::atom_constant<caf::atom("deliver")>;

/// What a scripted connection holds and how it behaves; the test changes it
/// between steps.
struct script {
  std::map<std::string, std::string> data;
  /// GET replies wait in `held` until the connection gets a tick.
  bool hold_gets = false;
  /// Every command fails as a lost connection would.
  bool lost = false;
  /// Messages with gets received: one get each, or a batch of them.
  int single_gets = 0;
  int batches = 0;
  /// Every GET gets an error reply (Redis failing, not the connection).
  bool errors = false;
  /// Non-empty: every delegated write gets this error reply.
  std::string refuse_writes;
  std::vector<std::pair<caf::typed_response_promise<resp_value>, resp_value>>
    held;
  /// Held replies of gets the cache delegated (answered through a relay).
  struct held_get {
    job_relay::promise_type rp;
    get_job job;
    resp_value reply;
  };
  std::vector<held_get> held_gets;
  std::vector<std::vector<std::string>> seen;
};

resp_value status_ok() {
  resp_value out;
  out.type = resp_value::kind::status;
  out.str = "OK";
  return out;
}

resp_value lookup(script* s, const std::string& key) {
  resp_value out;
  if (auto i = s->data.find(key); i != s->data.end()) {
    out.type = resp_value::kind::string;
    out.str = i->second;
  }
  return out;
}

/// A stand-in for one Redis connection: GET, SET, UNLINK, PING on `s`, and
/// the gets the cache delegates, answered through a job_relay as the real
/// connections do.
caf::behavior scripted_connection(caf::event_based_actor* self, script* s,
                                  cache_internal_actor cache) {
  auto relay = std::make_shared<job_relay>(self, cache);
  auto serve_get = [=](job_relay::promise_type& rp, get_job& job) {
    auto key = "p:" + job.key;
    s->seen.push_back({"GET", key});
    if (s->lost) {
      relay->hand_over(rp, job, make_error(errc::redis_unavailable,
                                           "connection to Redis lost"));
    } else if (s->errors) {
      resp_value reply;
      reply.type = resp_value::kind::error;
      reply.str = "ERR failing";
      relay->complete(rp, job, reply, self->clock().now());
      relay->end_read(true);
    } else if (s->hold_gets) {
      s->held_gets.push_back({rp, std::move(job), lookup(s, key)});
    } else {
      auto reply = lookup(s, key);
      relay->complete(rp, job, reply, self->clock().now());
      relay->end_read(true);
    }
  };
  return {
    [=](served_atom) { return true; },
    [=](get_atom, get_job& job) {
      ++s->single_gets;
      job_relay::promise_type rp = self->make_response_promise();
      serve_get(rp, job);
      return rp;
    },
    // The gets the cache collected in one round of its mailbox.
    [=](get_atom, get_batch& batch) {
      ++s->batches;
      job_relay::each_get(self, batch, serve_get);
    },
    [=](write_atom, write_job& job) {
      auto rp = self->make_response_promise<write_result>();
      auto key = "p:" + job.key;
      if (job.stored.empty())
        s->seen.push_back({"UNLINK", key});
      else
        s->seen.push_back({"SET", key, job.stored});
      if (s->lost) {
        relay->hand_over(rp, job, make_error(errc::redis_unavailable,
                                             "connection to Redis lost"));
        return rp;
      }
      resp_value reply;
      if (!s->refuse_writes.empty()) {
        reply.type = resp_value::kind::error;
        reply.str = s->refuse_writes;
      } else if (job.stored.empty()) {
        reply.type = resp_value::kind::integer;
        reply.integer = static_cast<int64_t>(s->data.erase(key));
      } else {
        s->data[key] = job.stored;
        reply = status_ok();
      }
      relay->complete(rp, job, reply, self->clock().now());
      relay->end_read(true);
      return rp;
    },
    [=](cmd_atom, const std::vector<std::string>& argv)
      -> caf::result<resp_value> {
      s->seen.push_back(argv);
      if (s->lost)
        return make_error(errc::redis_unavailable, "connection to Redis lost");
      resp_value out;
      if (argv[0] == "GET") {
        out = lookup(s, argv[1]);
        if (s->hold_gets) {
          auto rp = self->make_response_promise<resp_value>();
          s->held.emplace_back(rp, out);
          return rp;
        }
        return out;
      }
      if (argv[0] == "SET") {
        s->data[argv[1]] = argv[2];
        return status_ok();
      }
      if (argv[0] == "UNLINK") {
        out.type = resp_value::kind::integer;
        for (size_t i = 1; i < argv.size(); ++i)
          out.integer += static_cast<int64_t>(s->data.erase(argv[i]));
        return out;
      }
      if (argv[0] == "PING")
        return status_ok();
      out.type = resp_value::kind::error;
      out.str = "ERR unknown command";
      return out;
    },
    [=](deliver_held_atom) {
      for (auto& [rp, reply] : s->held)
        rp.deliver(reply);
      s->held.clear();
      for (auto& x : s->held_gets)
        relay->complete(x.rp, x.job, x.reply, self->clock().now());
      s->held_gets.clear();
      relay->end_read(true);
    },
  };
}

struct fixture {
  explicit fixture(uint32_t pool) : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    config c;
    c.backend = "null";
    c.coherence = false;
    c.pool_size = pool;
    c.key_prefix = "p:";
    c.request_timeout = 500ms;
    cache_handle = caf::actor_cast<cache_actor>(sys.spawn(cafcache::front, c));
    sched.run();
    // Replace every slot of the pool by a scripted connection.
    scripts.resize(pool);
    for (uint32_t slot = 0; slot < pool; ++slot) {
      conns.push_back(
        sys.spawn(scripted_connection, &scripts[slot],
                  caf::actor_cast<cache_internal_actor>(cache_handle)));
      plug(slot, conns.back());
    }
    sched.run();
  }

  ~fixture() {
    caf::anon_send_exit(cache_handle, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(signaller, caf::exit_reason::kill);
    for (auto& conn : conns)
      caf::anon_send_exit(conn, caf::exit_reason::kill);
    sched.run();
    sched.advance_time(2s);
    sched.run();
  }

  /// The supervisor's report that `slot` is up on `conn` (or down).
  void plug(uint32_t slot, caf::actor conn) {
    auto err = conn ? caf::error{}
                    : make_error(errc::redis_unavailable, "lost");
    caf::send_as(signaller, caf::actor_cast<caf::actor>(cache_handle),
                 conn_atom::value, slot, conn, err, std::string{});
  }

  template <class T, class... Ts>
  std::shared_ptr<answer_slot<T>> ask(Ts... xs) {
    return test::ask<T>(sys, cache_handle, xs...);
  }

  template <class T>
  T run(std::shared_ptr<answer_slot<T>> slot) {
    return test::run(sched, std::move(slot));
  }

  write_result put(const std::string& key, const std::string& value) {
    return run(ask<write_result>(put_atom::value, key,
                                 pack<codec_kind::raw>(value), set_options{}));
  }

  get_result get(const std::string& key) {
    return run(ask<get_result>(get_atom::value, key, request_options{}));
  }

  void route(breaker_state state) {
    caf::send_as(signaller, caf::actor_cast<cache_internal_actor>(cache_handle),
                 route_atom::value, state);
    sched.run();
  }

  /// The value stored for `key` in the script of `slot`, unwrapped.
  std::string stored(uint32_t slot, const std::string& key) {
    auto& data = scripts[slot].data;
    auto i = data.find("p:" + key);
    if (i == data.end())
      return "<none>";
    auto value = decode_envelope(i->second);
    return value ? value->data : "<foreign>";
  }

  virtual_time_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  cache_actor cache_handle;
  /// Sends the cache the signals of its own actors in their place.
  caf::actor signaller = sys.spawn([] { return caf::behavior{[](int) {}}; });
  std::vector<script> scripts;
  std::vector<caf::actor> conns;
};

std::string text(const get_result& r) {
  return r.found ? r.value.data : "<miss>";
}

} // namespace

TEST_CASE("a late read reply never lands in the fallback over a newer "
          "write that only the fallback took") {
  fixture f{1};
  REQUIRE(f.put("k", "v1").target == tier::redis);
  // A read goes to Redis; its reply (v1) waits in the connection.
  f.scripts[0].hold_gets = true;
  auto early = f.ask<get_result>(get_atom::value, std::string{"k"},
                                 request_options{});
  f.sched.run();
  REQUIRE(f.scripts[0].held_gets.size() == 1);
  // The route changes, and a newer write is acknowledged by the fallback.
  f.route(breaker_state::open);
  CHECK(f.put("k", "v2").target == tier::fallback);
  // Now the old reply arrives.
  caf::anon_send(f.conns[0], deliver_held_atom::value);
  f.sched.run();
  REQUIRE(early->value.has_value());
  CHECK(text(**early->value) == "v1");
  // The fallback still answers with the acknowledged write.
  auto later = f.get("k");
  CHECK(later.source == tier::fallback);
  CHECK(text(later) == "v2");
}

TEST_CASE("a write whose connection slot is down goes to Redis over another "
          "slot, not to the fallback") {
  fixture f{2};
  // Slot 0 carries every key: its connection reported up first.
  std::string key = "k";
  REQUIRE(f.put(key, "v1").target == tier::redis);
  CHECK(f.stored(0, key) == "v1");
  // Slot 0 is reported down; slot 1 is up.
  f.plug(0, caf::actor{});
  f.sched.run();
  CHECK(f.put(key, "v2").target == tier::redis);
  CHECK(f.stored(1, key) == "v2");
  auto inval = f.run(f.ask<write_result>(delete_atom::value, key,
                                         request_options{}));
  CHECK(inval.target == tier::redis);
  CHECK(f.stored(1, key) == "<none>");
}

TEST_CASE("a write whose connection is lost in flight is sent again over a "
          "live one before it is answered") {
  fixture f{2};
  // Slot 0, plugged first, carries every key.
  std::string key = "k";
  // Slot 0 fails every command as a dropped connection does, before the
  // supervisor reports it.
  f.scripts[0].lost = true;
  auto w = f.put(key, "v1");
  CHECK(w.target == tier::redis);
  CHECK(f.stored(1, key) == "v1");
  // The read after it goes to the live slot too, and finds the write.
  auto r = f.get(key);
  CHECK(r.source == tier::redis);
  CHECK(text(r) == "v1");
  CHECK_FALSE(r.stale);
}

TEST_CASE("a get Redis serves is answered by its connection, not by the "
          "cache actor, and reaches the fallback afterwards") {
  fixture f{1};
  REQUIRE(f.put("k", "v1").target == tier::redis);
  f.scripts[0].hold_gets = true;
  auto answer = f.ask<get_result>(get_atom::value, std::string{"k"},
                                  request_options{});
  f.sched.run();
  // The cache handed the get itself to the connection.
  REQUIRE(f.scripts[0].held_gets.size() == 1);
  REQUIRE(f.scripts[0].held.empty());
  // The reply comes; every actor runs except the cache.
  caf::anon_send(f.conns[0], deliver_held_atom::value);
  auto cache_job = dynamic_cast<caf::resumable*>(
    caf::actor_cast<caf::abstract_actor*>(f.cache_handle));
  f.sched.run_jobs_filtered(
    [&](caf::resumable* job) { return job != cache_job; });
  REQUIRE(answer->value.has_value());
  REQUIRE(*answer->value);
  CHECK(text(**answer->value) == "v1");
  CHECK((*answer->value)->source == tier::redis);
  CHECK_FALSE((*answer->value)->stale);
  // The cache learns of it afterwards: counted, and copied into the
  // fallback, which serves it when Redis is gone.
  f.sched.run();
  auto stats = f.run(f.ask<stats_report>(stats_atom::value));
  CHECK(stats.hits_redis == 1);
  f.route(breaker_state::open);
  auto stale = f.get("k");
  CHECK(stale.source == tier::fallback);
  CHECK(text(stale) == "v1");
  CHECK(stale.stale);
}

TEST_CASE("gets that reach the cache in one round of its mailbox go to "
          "their connection in one message, and each client gets its own "
          "answer from it") {
  fixture f{1};
  constexpr int n = 10;
  for (int i = 0; i < n; ++i)
    REQUIRE(f.put("k" + std::to_string(i), "v" + std::to_string(i)).target
            == tier::redis);
  f.scripts[0].single_gets = 0;
  // All ten requests are in the cache's mailbox before it runs.
  std::vector<std::shared_ptr<answer_slot<get_result>>> answers;
  for (int i = 0; i < n; ++i)
    answers.push_back(f.ask<get_result>(get_atom::value,
                                        "k" + std::to_string(i),
                                        request_options{}));
  f.sched.run();
  CHECK(f.scripts[0].batches == 1);
  CHECK(f.scripts[0].single_gets == 0);
  for (int i = 0; i < n; ++i) {
    REQUIRE(answers[i]->value.has_value());
    REQUIRE(*answers[i]->value);
    CHECK((*answers[i]->value)->source == tier::redis);
    CHECK(text(**answers[i]->value) == "v" + std::to_string(i));
  }
  // A lone get finds the mailbox empty and is delegated by itself.
  CHECK(text(f.get("k3")) == "v3");
  CHECK(f.scripts[0].single_gets == 1);
  CHECK(f.scripts[0].batches == 1);
  CHECK(f.run(f.ask<stats_report>(stats_atom::value)).hits_redis
        == static_cast<uint64_t>(n + 1));
}

TEST_CASE("a get whose connection is lost goes to another connection of "
          "the pool, not to the fallback") {
  fixture f{2};
  // Slot 0, plugged first, carries every key.
  std::string key = "k";
  REQUIRE(f.put(key, "v1").target == tier::redis);
  REQUIRE(f.stored(0, key) == "v1");
  // Both connections see the same Redis.
  f.scripts[1].data = f.scripts[0].data;
  // Slot 0 fails every command, before the supervisor reports it.
  f.scripts[0].lost = true;
  auto r = f.get(key);
  CHECK(r.source == tier::redis);
  CHECK(text(r) == "v1");
  CHECK_FALSE(r.stale);
  REQUIRE(f.scripts[1].seen.size() >= 1);
  CHECK(f.scripts[1].seen.back()
        == std::vector<std::string>{"GET", "p:" + key});
  auto stats = f.run(f.ask<stats_report>(stats_atom::value));
  CHECK(stats.redis_failures == 0);
}

TEST_CASE("a get Redis answers with an error is answered by the fallback, "
          "marked stale") {
  fixture f{1};
  REQUIRE(f.put("k", "v1").target == tier::redis);
  REQUIRE(text(f.get("k")) == "v1");
  // Redis now fails every read.
  f.scripts[0].errors = true;
  auto r = f.get("k");
  CHECK(r.source == tier::fallback);
  CHECK(text(r) == "v1");
  CHECK(r.stale);
  auto stats = f.run(f.ask<stats_report>(stats_atom::value));
  CHECK(stats.redis_failures == 1);
}

TEST_CASE("a plain set goes to its key's connection as a typed write, is "
          "acknowledged there, and is in the fallback when the breaker opens "
          "right after") {
  fixture f{1};
  REQUIRE(f.put("k", "v1").target == tier::redis);
  // The write job's form: the key and the envelope, no argv with PX.
  REQUIRE(f.scripts[0].seen.size() == 1);
  CHECK(f.scripts[0].seen.back().size() == 3);
  CHECK(f.scripts[0].seen.back()[0] == "SET");
  CHECK(f.stored(0, "k") == "v1");
  f.route(breaker_state::open);
  auto r = f.get("k");
  CHECK(r.source == tier::fallback);
  CHECK(text(r) == "v1");
  // An invalidate takes the same path, and the fallback forgets the key.
  f.route(breaker_state::closed);
  auto inval = f.run(f.ask<write_result>(delete_atom::value, std::string{"k"},
                                         request_options{}));
  CHECK(inval.target == tier::redis);
  CHECK(f.scripts[0].seen.back() == std::vector<std::string>{"UNLINK", "p:k"});
  f.route(breaker_state::open);
  CHECK(text(f.get("k")) == "<miss>");
}

TEST_CASE("a delegated set Redis refuses is answered with redis_error, and "
          "the older value goes from Redis and the fallback") {
  fixture f{1};
  REQUIRE(f.put("k", "v1").target == tier::redis);
  f.scripts[0].refuse_writes = "OOM command not allowed when used memory > "
                               "'maxmemory'.";
  auto answer = f.ask<write_result>(put_atom::value, std::string{"k"},
                                    pack<codec_kind::raw>(std::string{"v2"}),
                                    set_options{});
  f.sched.run();
  REQUIRE(answer->value.has_value());
  REQUIRE(!*answer->value);
  CHECK(is(answer->value->error(), errc::redis_error));
  // Deleted behind the refusal, over the same connection.
  CHECK(f.scripts[0].seen.back() == std::vector<std::string>{"UNLINK", "p:k"});
  CHECK(f.stored(0, "k") == "<none>");
  f.route(breaker_state::open);
  CHECK(text(f.get("k")) == "<miss>");
}

TEST_CASE("failures after the first reach the breaker in one report per "
          "window: five failed reads open it when their window ends") {
  fixture f{1};
  REQUIRE(f.put("k", "v1").target == tier::redis);
  REQUIRE(text(f.get("k")) == "v1");
  f.scripts[0].errors = true;
  for (int i = 0; i < 5; ++i)
    CHECK(f.get("k").source == tier::fallback);
  // The first failure went at once; four wait for the window's end.
  auto health = f.run(f.ask<health_report>(health_atom::value));
  CHECK(health.breaker == breaker_state::closed);
  // One window: fallback-reserve / 4.
  f.sched.advance_time(5ms);
  f.sched.run();
  health = f.run(f.ask<health_report>(health_atom::value));
  CHECK(health.breaker == breaker_state::open);
  auto stats = f.run(f.ask<stats_report>(stats_atom::value));
  CHECK(stats.redis_failures == 5);
}

TEST_CASE("with the breaker open the fallback answers gets itself, and a "
          "stats request right after counts them") {
  fixture f{1};
  REQUIRE(f.put("k", "v1").target == tier::redis);
  f.route(breaker_state::open);
  auto hit = f.get("k");
  CHECK(hit.source == tier::fallback);
  CHECK(hit.stale);
  CHECK(text(hit) == "v1");
  auto miss = f.get("unknown");
  CHECK(miss.source == tier::fallback);
  CHECK_FALSE(miss.found);
  // Not marked stale: Redis did not fail it, reads were routed away.
  CHECK_FALSE(miss.stale);
  auto stats = f.run(f.ask<stats_report>(stats_atom::value));
  CHECK(stats.hits_fallback == 1);
  CHECK(stats.stale_served == 1);
  CHECK(stats.misses == 1);
  CHECK(stats.gets == 2);
}
