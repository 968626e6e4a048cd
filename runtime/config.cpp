#include "runtime/config.hpp"

#include <algorithm>
#include <sstream>
#include <thread>
#include <type_traits>

#include <caf/actor_system_config.hpp>
#include <caf/config_option_adder.hpp>

#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "runtime/log.hpp"

namespace cafcache {

namespace {

std::string render_default(const std::string& x) {
  return "`" + x + "`";
}

std::string render_default(caf::timespan x) {
  using namespace std::chrono;
  auto ns = x.count();
  auto fmt = [](int64_t n, const char* unit) {
    return "`" + std::to_string(n) + unit + "`";
  };
  if (ns % 1000000000 == 0)
    return fmt(ns / 1000000000, "s");
  if (ns % 1000000 == 0)
    return fmt(ns / 1000000, "ms");
  return fmt(ns / 1000, "us");
}

std::string render_default(bool x) {
  return x ? "`true`" : "`false`";
}

std::string render_default(double x) {
  std::ostringstream out;
  out << x;
  return "`" + out.str() + "`";
}

template <class T>
std::enable_if_t<std::is_integral<T>::value, std::string> render_default(T x) {
  return "`" + std::to_string(x) + "`";
}

caf::error bad(std::string what) {
  return make_error(errc::bad_config, std::move(what));
}

} // namespace

std::optional<backend_kind> parse_backend(std::string_view name) {
  if (name == "redis")
    return backend_kind::redis;
  if (name == "memory")
    return backend_kind::memory;
  if (name == "null")
    return backend_kind::null;
  return std::nullopt;
}

caf::error config::validate() const {
  std::string why;
  if (!parse_redis_url(redis_url, &why))
    return bad("cafcache.redis-url: " + why);
  if (!parse_backend(backend))
    return bad("cafcache.backend must be \"redis\", \"memory\" or \"null\"");
  if (pool_size == 0 || pool_size > 64)
    return bad("cafcache.pool-size must be between 1 and 64");
  if (max_pending == 0)
    return bad("cafcache.max-pending must be at least 1");
  if (request_timeout <= caf::timespan{0})
    return bad("cafcache.request-timeout must be positive");
  if (fallback_reserve < caf::timespan{0}
      || fallback_reserve >= request_timeout)
    return bad("cafcache.fallback-reserve must be shorter than "
               "cafcache.request-timeout");
  if (default_ttl < std::chrono::milliseconds(1))
    return bad("cafcache.default-ttl must be at least 1ms");
  if (ttl_jitter < 0.0 || ttl_jitter >= 1.0)
    return bad("cafcache.ttl-jitter must be in [0, 1)");
  if (negative_ttl < caf::timespan{0})
    return bad("cafcache.negative-ttl must not be negative");
  if (max_key_bytes == 0)
    return bad("cafcache.max-key-bytes must be at least 1");
  if (max_value_bytes == 0 || max_value_bytes > 512u * 1024 * 1024)
    return bad("cafcache.max-value-bytes must be between 1 and 512 MiB");
  if (breaker_failure_threshold == 0)
    return bad("cafcache.breaker-failure-threshold must be at least 1");
  if (breaker_reset_timeout < std::chrono::milliseconds(1)
      || breaker_max_reset_timeout < breaker_reset_timeout)
    return bad("cafcache.breaker-reset-timeout must be at least 1ms and at "
               "most cafcache.breaker-max-reset-timeout");
  if (backoff_factor < 1.0)
    return bad("cafcache.backoff-factor must be at least 1");
  if (jitter < 0.0 || jitter >= 1.0)
    return bad("cafcache.jitter must be in [0, 1)");
  if (probe_timeout < std::chrono::milliseconds(1)
      || max_half_open < probe_timeout)
    return bad("cafcache.probe-timeout must be at least 1ms and at most "
               "cafcache.max-half-open");
  if (connect_timeout < std::chrono::milliseconds(1))
    return bad("cafcache.connect-timeout must be at least 1ms");
  if (reconnect_min < std::chrono::milliseconds(1)
      || reconnect_max < reconnect_min)
    return bad("cafcache.reconnect-min must be at least 1ms and at most "
               "cafcache.reconnect-max");
  if (cluster_refresh_spacing < std::chrono::milliseconds(1)
      || cluster_refresh_period < cluster_refresh_spacing)
    return bad("cafcache.cluster-refresh-spacing must be at least 1ms and at "
               "most cafcache.cluster-refresh-period");
  if (bind.empty())
    return bad("cafcache.bind must name an address");
  if (uint64_t{max_message_bytes} < uint64_t{max_value_bytes} + 64 * 1024)
    return bad("cafcache.max-message-bytes must leave room for one value of "
               "cafcache.max-value-bytes plus 64 KiB for its key and options");
  if (max_peers == 0)
    return bad("cafcache.max-peers must be at least 1");
  if (cafcache::log_level x; !parse_log_level(log_level, x))
    return bad("cafcache.log-level must be debug, info, warn, error or off");
  return caf::none;
}

redis_endpoint config::endpoint() const {
  std::string why;
  auto ep = parse_redis_url(redis_url, &why);
  if (!ep)
    return redis_endpoint{};
  ep->sentinel_user = sentinel_user;
  ep->sentinel_password = sentinel_password;
  return *ep;
}

caf::timespan config::sweep_interval() const {
  return std::clamp<caf::timespan>(fallback_reserve / 4,
                                   std::chrono::milliseconds(1),
                                   std::chrono::milliseconds(5));
}

caf::timespan config::mirror_refresh() const {
  return std::min<caf::timespan>(fallback_read_ttl / 2,
                                 std::chrono::seconds(1));
}

breaker_settings config::breaker() const {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  breaker_settings out;
  out.failure_threshold = breaker_failure_threshold;
  out.reset_timeout = duration_cast<milliseconds>(breaker_reset_timeout);
  out.max_reset_timeout
    = duration_cast<milliseconds>(breaker_max_reset_timeout);
  out.backoff_factor = backoff_factor;
  out.jitter = jitter;
  out.max_half_open = duration_cast<milliseconds>(max_half_open);
  return out;
}

config config::from(const caf::actor_system_config& cfg) {
  config out;
  for_each_field([&](const char* name, auto member, const char*) {
    auto key = std::string{"cafcache."} + name;
    out.*member = caf::get_or(cfg, key, out.*member);
  });
  return out;
}

void add_module(caf::actor_system_config& cfg, caf::config_option_set& opts) {
  caf::config_option_adder adder{opts, "cafcache"};
  config::for_each_field([&](const char* name, auto member, const char* desc) {
    using field_type = std::decay_t<decltype(config{}.*member)>;
    adder.add<field_type>(name, desc);
  });
  cfg.add_error_category(errc_category,
                         [](uint8_t code, caf::atom_value,
                            const caf::message& ctx) {
                           auto err = caf::error{code, errc_category, ctx};
                           return to_sentence(err);
                         });
  cfg.add_message_type<request_options>("cafcache.request_options");
  cfg.add_message_type<set_options>("cafcache.set_options");
  cfg.add_message_type<cache_value>("cafcache.cache_value");
  cfg.add_message_type<get_result>("cafcache.get_result");
  cfg.add_message_type<load_result>("cafcache.load_result");
  cfg.add_message_type<key_value>("cafcache.key_value");
  cfg.add_message_type<loader_actor>("cafcache.loader_actor");
  cfg.add_message_type<write_result>("cafcache.write_result");
  cfg.add_message_type<stats_report>("cafcache.stats_report");
  cfg.add_message_type<health_report>("cafcache.health_report");
  cfg.add_message_type<bucket_histogram>("cafcache.bucket_histogram");
  cfg.add_message_type<metrics_report>("cafcache.metrics_report");
  cfg.add_message_type<cache_actor>("cafcache.cache_actor");
}

system_config::system_config() {
  add_module(*this, custom_options_);
  // CAF 0.17 starts max(cores, 4) workers; on fewer than 4 cores the extra
  // workers only add wake-ups and steals. One per core measured 1.56x the
  // null backend's throughput on 2 cores (README, Benchmark). Command line
  // and config file still override it.
  set("scheduler.max-threads",
      std::max<size_t>(1, std::thread::hardware_concurrency()));
  // After its short spin, an idle CAF 0.17 worker sleeps 50 us at a time
  // for 500 rounds before it waits on its condition variable, which an
  // enqueue signals; a message arriving in that phase waits out the sleep.
  // Waiting on the condition variable at once took the p50 of one request
  // in flight from 144 to 104-112 us, with less CPU per request (78 against
  // 92-103 us; docs/benchmarks.md). Command line and config file still
  // override it.
  set("work-stealing.moderate-poll-attempts", size_t{0});
}

std::string options_markdown() {
  std::string out = "| option | default | meaning |\n|---|---|---|\n";
  config defaults;
  config::for_each_field([&](const char* name, auto member, const char* desc) {
    out += "| `cafcache.";
    out += name;
    out += "` | ";
    out += render_default(defaults.*member);
    out += " | ";
    out += desc;
    out += " |\n";
  });
  return out;
}

} // namespace cafcache
