#include "http/metrics_http.hpp"

#include <sstream>

#include <CivetServer.h>
#include <fmt/format.h>
#include <prometheus/text_serializer.h>

#include "messages/errc.hpp"
#include "runtime/health_json.hpp"
#include "http/metrics.hpp"

namespace cafcache {

namespace {

void respond(mg_connection* conn, int status, const char* content_type,
             const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            status, mg_get_response_code_text(conn, status), content_type,
            body.size());
  mg_write(conn, body.data(), body.size());
}

class metrics_handler : public CivetHandler {
public:
  explicit metrics_handler(const cache_collector& collector)
    : collector_(collector) {
    // Nothing to do.
  }

  bool handleGet(CivetServer*, mg_connection* conn) override {
    std::ostringstream body;
    prometheus::TextSerializer{}.Serialize(body, collector_.Collect());
    respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
            body.str());
    return true;
  }

private:
  const cache_collector& collector_;
};

class health_handler : public CivetHandler {
public:
  explicit health_handler(const cache_collector& collector)
    : collector_(collector) {
    // Nothing to do.
  }

  bool handleGet(CivetServer*, mg_connection* conn) override {
    auto report = collector_.health();
    if (!report) {
      health_report silent;
      silent.last_error = "the cache did not answer: "
                          + to_sentence(report.error());
      respond(conn, 503, "application/json", to_json(silent));
      return true;
    }
    respond(conn, report->healthy ? 200 : 503, "application/json",
            to_json(*report));
    return true;
  }

private:
  const cache_collector& collector_;
};

} // namespace

struct metrics_server::handlers {
  explicit handlers(const cache_collector& collector)
    : metrics(collector), health(collector) {
    // Nothing to do.
  }

  metrics_handler metrics;
  health_handler health;
};

metrics_server::~metrics_server() {
  stop();
}

caf::expected<std::unique_ptr<metrics_server>>
metrics_server::start(caf::actor_system& sys, cache_actor cache,
                      const std::string& bind, uint16_t port) {
  std::unique_ptr<metrics_server> out{new metrics_server};
  out->collector_ = std::make_shared<cache_collector>(sys, std::move(cache));
  out->handlers_ = std::make_unique<handlers>(*out->collector_);
  auto address = bind.find(':') == std::string::npos
                   ? fmt::format("{}:{}", bind, port)
                   : fmt::format("[{}]:{}", bind, port);
  std::vector<std::string> options{"listening_ports", address, "num_threads",
                                   "2"};
  try {
    out->server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& ex) {
    return make_error(errc::bad_config,
                      fmt::format("cannot serve metrics on {}: {}", address,
                                  ex.what()));
  }
  out->server_->addHandler("/metrics", out->handlers_->metrics);
  out->server_->addHandler("/health", out->handlers_->health);
  // civetweb reads the bound port back from the socket, so for port 0 this
  // is the one the kernel picked.
  auto ports = out->server_->getListeningPorts();
  out->port_ = ports.empty() ? port : static_cast<uint16_t>(ports.front());
  return out;
}

void metrics_server::stop() {
  if (server_)
    server_->close();
  server_.reset();
}

} // namespace cafcache
