#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "cafcache.hpp"
#include "tests/harness/fast_config.hpp"
#include "tests/harness/redis_process.hpp"

namespace cafcache::test {

/// The sentence of `x`'s error, or "ok": for the message of a REQUIRE on
/// an expected, which doctest also renders when the check passes (with -s).
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : to_sentence(x.error());
}

using namespace std::chrono_literals;

/// An actor system with the middleman and cafcache loaded.
struct node_config : system_config {
  node_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
  }
};

/// Polls `pred` every 50 ms until it holds or `limit` passes; its last
/// answer.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

/// Answers a run may give past deadline + 50 ms out of `calls`: none in a
/// release build; 0.5 % when the test runs under the sanitizers
/// (CAFCACHE_SANITIZED set by tests/meson.build), whose slowdown on two
/// cores lets a few answers out late.
inline int late_allowed(int calls) {
  return std::getenv("CAFCACHE_SANITIZED") != nullptr ? calls / 200 : 0;
}

/// Synchronous helpers over a scoped actor, for tests only.
class client {
public:
  client(caf::actor_system& sys, cache_actor cache)
    : self_(sys), cache_(std::move(cache)) {
  }

  caf::expected<get_result> get(const std::string& key,
                                request_options opts = {}) {
    caf::expected<get_result> out{caf::error{}};
    self_->request(cache_, 10s, get_atom::value, key, opts)
      .receive([&](get_result& r) { out = std::move(r); },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  caf::expected<write_result> set(const std::string& key,
                                  const std::string& value,
                                  set_options opts = {}) {
    return set(key, cache_value{codec_kind::raw, value}, opts);
  }

  caf::expected<write_result> set(const std::string& key, cache_value value,
                                  set_options opts = {}) {
    caf::expected<write_result> out{caf::error{}};
    self_->request(cache_, 10s, put_atom::value, key, std::move(value), opts)
      .receive([&](write_result& r) { out = r; },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  caf::expected<write_result> invalidate(const std::string& key,
                                         request_options opts = {}) {
    caf::expected<write_result> out{caf::error{}};
    self_->request(cache_, 10s, delete_atom::value, key, opts)
      .receive([&](write_result& r) { out = r; },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  caf::expected<write_result> invalidate_tag(const std::string& tag,
                                             request_options opts = {}) {
    caf::expected<write_result> out{caf::error{}};
    self_->request(cache_, 10s, delete_atom::value, tag_atom::value, tag, opts)
      .receive([&](write_result& r) { out = r; },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  health_report health() {
    health_report out;
    self_->request(cache_, 10s, health_atom::value)
      .receive([&](health_report& r) { out = std::move(r); },
               [&](caf::error&) {});
    return out;
  }

  stats_report stats() {
    stats_report out;
    self_->request(cache_, 10s, stats_atom::value)
      .receive([&](stats_report& r) { out = std::move(r); },
               [&](caf::error&) {});
    return out;
  }

  /// Polls health until `pred` holds or `limit` passes.
  template <class Pred>
  bool wait_for(Pred pred, caf::timespan limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (pred(health()))
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

private:
  caf::scoped_actor self_;
  cache_actor cache_;
};

/// A cache module with `settings` in an actor system of its own (another
/// node), stopped when it goes out of scope, also by a failed REQUIRE.
struct cache_node {
  explicit cache_node(const config& settings) : sys(cfg) {
    auto handle = spawn_cache(sys, settings);
    REQUIRE_MESSAGE(handle, why(handle));
    cache = *handle;
    api.emplace(sys, cache);
  }

  ~cache_node() {
    api.reset();
    stop_cache(sys, cache);
  }

  node_config cfg;
  caf::actor_system sys;
  cache_actor cache;
  std::optional<client> api;
};

/// A redis-server on a free port and the fast settings of a cache on it.
struct redis_and_settings {
  redis_and_settings(std::vector<std::string> redis_args,
                     std::function<void(config&)> tune)
    : redis(std::move(redis_args)), settings(fast_config(redis.url())) {
    if (tune)
      tune(settings);
  }

  redis_process redis;
  config settings;
};

/// A redis-server on a free port and a cache module in front of it; the
/// cache stops before the server.
struct module_fixture : redis_and_settings, cache_node {
  explicit module_fixture(std::vector<std::string> redis_args = {},
                          std::function<void(config&)> tune = nullptr)
    : redis_and_settings(std::move(redis_args), std::move(tune)),
      cache_node(settings) {
    // nop
  }
};

/// A fresh folder under the system temp directory.
inline std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path()
             / ("cafcache-" + std::to_string(::getpid()) + "-"
                + std::to_string(free_port()));
  std::filesystem::create_directories(dir);
  return dir;
}

/// Redis that keeps its data across kill and restart (AOF, fsync always).
inline std::vector<std::string> persistent_args(const std::filesystem::path& dir) {
  return {"--dir", dir.string(), "--appendonly", "yes", "--appendfsync",
          "always"};
}

/// Sends everything written to stderr into a file until destroyed; `text()`
/// returns what arrived so far.
class stderr_capture {
public:
  stderr_capture() {
    path_ = temp_dir() / "stderr.log";
    saved_ = ::dup(STDERR_FILENO);
    auto fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }

  ~stderr_capture() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    std::filesystem::remove_all(path_.parent_path());
  }

  std::string text() const {
    std::ifstream in{path_};
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

private:
  std::filesystem::path path_;
  int saved_ = -1;
};

/// The value of a found result as a string, or "<miss>" / "<error: ...>".
inline std::string text(const caf::expected<get_result>& r) {
  if (!r)
    return "<error: " + to_sentence(r.error()) + ">";
  return r->found ? r->value.data : "<miss>";
}

} // namespace cafcache::test
