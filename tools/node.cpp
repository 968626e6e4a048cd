// cafcache-node: hosts the cache in its own actor system and publishes it on a
// middleman port, over TLS when `openssl.*` keys are set. Its first line on
// stdout is "cafcache-node listening on HOST:PORT", printed once it takes
// requests. SIGINT or SIGTERM stop it through stop_cache: pending requests are
// answered and the answers written to the peers' sockets (within 2 s of the
// cache's end; a peer that has not read them by then is cut off), then it
// exits 0. It exits 1 with one line on stderr when it cannot start. With
// `cafcache.metrics-port` set it also serves `/metrics` (Prometheus) and
// `/health` (JSON) over HTTP.

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include "cafcache.hpp"
#include "http/metrics_http.hpp"
#include "tools/tls_setup.hpp"

using namespace cafcache;

namespace {

struct node_config : system_config {
  node_config() {
    load<caf::io::middleman>();
  }
};

int fail(const std::string& why) {
  std::cerr << "cafcache-node: " << why << std::endl;
  return 1;
}

/// Without a Redis URL (and no explicit backend) a node keeps its data in the
/// in-memory tier alone.
bool memory_only(const caf::actor_system_config& cfg) {
  return !caf::get_if<std::string>(&cfg, "cafcache.redis-url")
         && !caf::get_if<std::string>(&cfg, "cafcache.backend");
}

std::string describe_backend(const config& opts) {
  if (opts.backend == "memory")
    return "memory: in-memory tier alone (no cafcache.redis-url given; "
           "nothing shared with other nodes, nothing persisted)";
  if (opts.backend == "null")
    return "null: unbounded in-process map, no Redis";
  return "redis at " + redacted(opts.endpoint());
}

/// With TLS, CAF's OpenSSL module publishes the cache itself and mutual
/// authentication decides who may send. Without, the peer guard in front of
/// the middleman bounds what a peer may send (actors/publish.hpp).
caf::expected<published_cache> publish(caf::actor_system& sys,
                                       const cache_actor& cache,
                                       const config& opts, bool tls) {
  if (!tls)
    return publish_cache(sys, cache, opts);
  auto port = caf::openssl::publish(cache, opts.port, opts.bind.c_str(), true);
  if (!port)
    return port.error();
  return published_cache{*port, *port, caf::actor{}};
}

void unpublish(caf::actor_system& sys, const cache_actor& cache,
               const published_cache& published) {
  if (published.guard)
    unpublish_cache(sys, cache, published);
  else
    sys.middleman().unpublish(cache, published.port);
}

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

} // namespace

int main(int argc, char** argv) {
  // Blocked before CAF starts a thread, so every thread inherits the mask and
  // the signals wait for sigwait below: no CAF call ever runs in a handler.
  // A shell starts background jobs with SIGINT ignored, and an ignored signal
  // never reaches sigwait: take the default disposition back first.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  node_config cfg;
  if (auto err = cfg.parse(argc, argv))
    return fail("invalid option or config file: "
                + caf::actor_system_config::render(err));
  if (cfg.cli_helptext_printed)
    return 0;
  auto opts = config::from(cfg);
  if (memory_only(cfg))
    opts.backend = "memory";
  if (auto err = opts.validate())
    return fail(to_sentence(err));
  auto tls = tls_enabled(cfg);
  if (tls) {
    if (auto why = check_tls(cfg); !why.empty())
      return fail(why);
    cfg.load<caf::openssl::manager>();
  }
  caf::actor_system sys{cfg};
  auto cache = spawn_cache(sys, opts);
  if (!cache)
    return fail(to_sentence(cache.error()));
  auto published = publish(sys, *cache, opts, tls);
  if (!published) {
    stop_cache(sys, *cache);
    return fail("cannot listen on " + opts.bind + ":"
                + std::to_string(opts.port) + ": "
                + sys.render(published.error()));
  }
  std::unique_ptr<metrics_server> http;
  if (opts.metrics_port != 0) {
    auto started = metrics_server::start(sys, *cache, opts.bind,
                                         opts.metrics_port);
    if (!started) {
      unpublish(sys, *cache, *published);
      stop_cache(sys, *cache);
      return fail(to_sentence(started.error()));
    }
    http = std::move(*started);
  }
  std::cout << "cafcache-node listening on " << opts.bind << ':'
            << published->port << '\n'
            << "cafcache-node backend " << describe_backend(opts) << '\n';
  if (http)
    std::cout << "cafcache-node metrics on http://" << opts.bind << ':'
              << http->port() << "/metrics and /health\n";
  std::cout << "cafcache-node tls "
            << (tls ? "on: peers show a certificate signed by the CA"
                    : "off: messages up to "
                        + std::to_string(opts.max_message_bytes)
                        + " bytes, " + std::to_string(opts.max_peers)
                        + " peers")
            << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cout << "cafcache-node stopping on " << signal_name(sig) << std::endl;
  if (http)
    http->stop();
  unpublish(sys, *cache, *published);
  stop_cache(sys, *cache);
  if (published->guard)
    drain_peers(sys, *published);
  std::cout << "cafcache-node stopped" << std::endl;
  return 0;
}
