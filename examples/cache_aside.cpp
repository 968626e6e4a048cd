// Cache-aside with get_or_load, in front of a slow database actor.
//
//   build/examples/cache_aside --cafcache.redis-url=redis://127.0.0.1:6379
//   build/examples/cache_aside --cafcache.backend=memory
//
// get, database on a miss, set: one database call per concurrent miss (a cache
// stampede). get_or_load asks the database once for every caller waiting on a
// key and stores the answer. Each run deletes its keys first; the exit code is
// 1 when a request failed.

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cafcache.hpp"

using namespace std::chrono_literals;

namespace {

/// The system of record: 50 ms per row, and the reason we cache. Counts its
/// calls; each row carries its call number, so a refresh is visible.
cafcache::loader_actor::behavior_type
database(cafcache::loader_actor::pointer, std::atomic<int>* calls) {
  return {
    [=](cafcache::load_atom, const std::string& key) {
      auto row = key + " (load #" + std::to_string(++*calls) + ")";
      std::this_thread::sleep_for(50ms); // detached: blocks only this actor
      return cafcache::load_result{true, {cafcache::codec_kind::raw, row}};
    },
  };
}

/// How a burst of requests was answered.
struct tally {
  std::map<std::string, int> sources; // answers per tier, "(stale)" apart
  int failed = 0;
  std::string value; // the last one
};

/// Sends `n` get_or_load requests for `key` at once; waits for every answer.
tally burst(caf::actor_system& sys, const cafcache::cache_actor& cache,
            const cafcache::loader_actor& db, const std::string& key, int n,
            const cafcache::set_options& opts) {
  tally out;
  auto client = sys.spawn([&](caf::event_based_actor* self) {
    for (int i = 0; i < n; ++i)
      self->request(cache, 2s, cafcache::load_atom::value, key, db, opts)
        .then(
          [&](cafcache::get_result& r) {
            auto source = std::string{cafcache::to_string(r.source)};
            ++out.sources[source + (r.stale ? "(stale)" : "")];
            out.value = r.value.data;
          },
          [&](caf::error& err) {
            ++out.failed;
            std::cerr << key << ": " << cafcache::to_sentence(err) << '\n';
          });
  });
  caf::scoped_actor waiter{sys};
  waiter->monitor(client);
  waiter->receive([](const caf::down_msg&) {});
  return out;
}

std::ostream& operator<<(std::ostream& out, const tally& t) {
  for (auto& [source, count] : t.sources)
    out << ' ' << source << '=' << count;
  return out;
}

/// Runs the example; returns the exit code.
int run(caf::actor_system& sys) {
  auto cache = cafcache::spawn_cache(sys); // reads cafcache.* options
  if (!cache) {
    std::cerr << cafcache::to_sentence(cache.error()) << '\n';
    return 1;
  }
  std::atomic<int> calls{0};
  auto db = sys.spawn<caf::detached>(database, &calls);
  int failed = 0;
  caf::scoped_actor self{sys};
  for (auto key : {"user:1", "user:2"})
    self->request(*cache, 2s, cafcache::delete_atom::value, key,
                  cafcache::request_options{})
      .receive([](cafcache::write_result&) {}, [&](caf::error&) { ++failed; });
  cafcache::set_options opts;
  opts.ttl = 10min;
  auto ask = [&](const char* key, int n) {
    auto t = burst(sys, *cache, db, key, n, opts);
    failed += t.failed;
    return t;
  };
  for (int round = 1; round <= 2; ++round) {
    auto before = calls.load();
    auto t = ask("user:1", 100);
    std::cout << "round " << round << ": 100 requests, " << calls - before
              << " database call(s), answered by" << t << '\n';
  }
  // Stale-while-revalidate: past the soft TTL the old row is served at once
  // while one background load replaces it.
  opts.soft_ttl = 100ms;
  ask("user:2", 1);
  std::this_thread::sleep_for(150ms);
  auto t = ask("user:2", 10);
  std::cout << "soft TTL passed: 10 requests got \"" << t.value
            << "\", answered by" << t << '\n';
  std::this_thread::sleep_for(100ms);
  std::cout << "after the background load: \"" << ask("user:2", 1).value
            << "\"\n";
  caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
  cafcache::stop_cache(sys, *cache); // answers pending requests
  return failed == 0 ? 0 : 1;
}

} // namespace

// Instead of CAF_MAIN, which always exits with 0.
int main(int argc, char** argv) {
  cafcache::system_config cfg;
  cfg.load<caf::io::middleman>();
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << caf::actor_system_config::render(err) << '\n';
    return 1;
  }
  if (cfg.cli_helptext_printed) // --help
    return 0;
  caf::actor_system sys{cfg};
  return run(sys);
}
