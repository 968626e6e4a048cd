// Built by `make install-check` against the installed libraries, outside the
// tree (pkg-config cafcache-http, plus prometheus-cpp-pull for the Exposer):
// proves both ways a program that hosts a cache exposes its metrics.
//
// 1. `metrics_server::start` serves /metrics and /health on a port of its
//    own (0 here: a free one).
// 2. A `cache_collector` joins the program's own prometheus-cpp registry on
//    the program's Exposer.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cafcache.hpp>
#include <http/metrics.hpp>
#include <http/metrics_http.hpp>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <iostream>
#include <memory>
#include <string>

namespace {

/// The whole answer to `GET path` from 127.0.0.1:`port`; empty when the
/// server cannot be reached.
std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return {};
  timeval limit{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    auto request = "GET " + path
                   + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Connection: close\r\n\r\n";
    if (::write(fd, request.data(), request.size())
        == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (auto n = ::read(fd, buf, sizeof(buf)); n > 0;
           n = ::read(fd, buf, sizeof(buf)))
        out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

/// Prints what is wrong; false unless `text` has every line.
bool expect(const char* what, const std::string& text,
            std::initializer_list<std::string> lines) {
  bool ok = text.compare(0, 15, "HTTP/1.1 200 OK") == 0;
  for (auto& line : lines)
    ok = ok && has_line(text, line);
  if (!ok)
    std::cerr << "install check: " << what << " lacks a line of:\n"
              << text << '\n';
  return ok;
}

struct check_config : cafcache::system_config {
  check_config() {
    load<caf::io::middleman>();
  }
};

int run(caf::actor_system& sys, const cafcache::cache_actor& cache) {
  caf::scoped_actor self{sys};
  bool stored = false;
  self
    ->request(cache, std::chrono::seconds(1), cafcache::put_atom::value, "k",
              cafcache::pack(std::string{"v"}), cafcache::set_options{})
    .receive([&](cafcache::write_result&) { stored = true; },
             [](caf::error& err) {
               std::cerr << cafcache::to_sentence(err) << '\n';
             });
  if (!stored)
    return 1;
  auto server = cafcache::metrics_server::start(sys, cache, "127.0.0.1", 0);
  if (!server) {
    std::cerr << cafcache::to_sentence(server.error()) << '\n';
    return 1;
  }
  if ((*server)->port() == 0) {
    std::cerr << "install check: metrics_server reports port 0\n";
    return 1;
  }
  const std::string set_line
    = R"(cafcache_requests_total{operation="set",outcome="fallback"} 1)";
  if (!expect("metrics_server /metrics",
              http_get((*server)->port(), "/metrics"),
              {"cafcache_up 1", set_line})
      || !expect("metrics_server /health",
                 http_get((*server)->port(), "/health"), {}))
    return 1;
  (*server)->stop();
  prometheus::Exposer exposer{"127.0.0.1:0"};
  auto registry = std::make_shared<prometheus::Registry>();
  auto& jobs = prometheus::BuildCounter()
                 .Name("app_jobs_total")
                 .Help("Jobs of the program itself")
                 .Register(*registry);
  jobs.Add({}).Increment();
  auto collector = std::make_shared<cafcache::cache_collector>(sys, cache);
  exposer.RegisterCollectable(registry);
  exposer.RegisterCollectable(collector);
  if (!expect("Exposer /metrics",
              http_get(exposer.GetListeningPorts().at(0), "/metrics"),
              {"app_jobs_total 1", "cafcache_up 1", set_line}))
    return 1;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  check_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << caf::actor_system_config::render(err) << '\n';
    return 1;
  }
  caf::actor_system sys{cfg};
  auto cache = cafcache::spawn_cache(sys);
  if (!cache) {
    std::cerr << cafcache::to_sentence(cache.error()) << '\n';
    return 1;
  }
  auto rc = run(sys, *cache);
  cafcache::stop_cache(sys, *cache);
  if (rc == 0)
    std::cout << "install check: metrics_server and cache_collector serve "
                 "cafcache_up 1\n";
  return rc;
}
