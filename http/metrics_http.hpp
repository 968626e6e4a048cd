#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "messages/interfaces.hpp"

class CivetServer;

namespace cafcache {

class cache_collector;

/// The HTTP endpoints of a cache, for cafcache-node or any program that hosts
/// one, served by civetweb (the server
/// prometheus-cpp's Exposer wraps; the Exposer itself cannot serve a second
/// path with a handler of ours, so both share one civetweb server here):
///
/// - `GET /metrics`: Prometheus text format (`to_families`);
/// - `GET /health`: `to_json(health_report)`, status 200 while healthy and
///   503 otherwise (also when the cache does not answer within 1 s).
///
/// Each request asks the cache actor with a bounded blocking request from a
/// civetweb thread; the actors never wait for HTTP.
class metrics_server {
public:
  ~metrics_server();

  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  /// Listens on `bind:port`; port 0 picks a free port (see `port()`).
  /// Returns `errc::bad_config` with a sentence when the address cannot be
  /// bound.
  static caf::expected<std::unique_ptr<metrics_server>>
  start(caf::actor_system& sys, cache_actor cache, const std::string& bind,
        uint16_t port);

  /// The port it listens on (the one picked when started with port 0).
  uint16_t port() const {
    return port_;
  }

  /// Stops listening and waits for the requests being served.
  void stop();

private:
  struct handlers;

  metrics_server() = default;

  std::shared_ptr<cache_collector> collector_;
  std::unique_ptr<handlers> handlers_;
  std::unique_ptr<CivetServer> server_;
  uint16_t port_ = 0;
};

} // namespace cafcache
