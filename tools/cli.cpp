// cafcache-cli: one request to a cafcache-node, for people and scripts.
//
//   cafcache-cli --node=HOST:PORT get KEY
//   cafcache-cli --node=HOST:PORT set KEY VALUE [--ttl=10s]
//   cafcache-cli --node=HOST:PORT del KEY
//   cafcache-cli --node=HOST:PORT health | stats
//   cafcache-cli --node=HOST:PORT metrics
//
// Connecting and every request are bounded by --timeout (default 5s), and a
// watchdog ends the process should tearing down the connection hang.

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <caf/actor_system.hpp>
#include <caf/config_value.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>
#include <prometheus/text_serializer.h>

#include "cafcache.hpp"
#include "http/metrics.hpp"
#include "tools/remote_cache.hpp"
#include "tools/tls_setup.hpp"

using namespace cafcache;
using namespace std::chrono_literals;

namespace {

// -- exit codes ---------------------------------------------------------------

constexpr int exit_ok = 0;
/// get: the key is not in the cache.
constexpr int exit_miss = 1;
/// The node answered with an error.
constexpr int exit_error = 2;
/// The node could not be reached or did not answer in time.
constexpr int exit_unreachable = 3;
/// The command line is wrong.
constexpr int exit_usage = 64;

const char* usage_text
  = "usage: cafcache-cli --node=HOST:PORT [--timeout=5s] [TLS options] COMMAND\n"
    "  get KEY                  prints the value's bytes; exit 1 on a miss\n"
    "  set KEY VALUE [--ttl=D]  stores VALUE as raw bytes; prints the tier\n"
    "  del KEY                  invalidates KEY; prints the tier\n"
    "  health | stats           prints the report as JSON\n"
    "  metrics                  prints the counters in Prometheus text format\n"
    "durations (--ttl, --timeout): 500ms, 30s, 10m or 10min, 1h\n"
    "TLS (mutual, like the node): --openssl.certificate=PEM "
    "--openssl.key=PEM\n"
    "  --openssl.cafile=PEM (or --openssl.capath=DIR) [--openssl.passphrase=P]\n"
    "exit: 0 done, 1 miss, 2 the node answered with an error, 3 node "
    "unreachable or no answer in time, 64 usage\n";

struct cli_args {
  std::string node;
  caf::timespan timeout = 5s;
  std::optional<caf::timespan> ttl;
  /// The command and its operands.
  std::vector<std::string> words;
  /// `--openssl.*` and other CAF options, handed to CAF's config parser.
  std::vector<std::string> caf_options;
};

struct cli_config : system_config {
  cli_config() {
    load<caf::io::middleman>();
  }
};

int usage(const std::string& why) {
  std::cerr << "cafcache-cli: " << why << '\n' << usage_text;
  return exit_usage;
}

/// Reads a positive duration with CAF's parser, the one behind every
/// `cafcache.*` option (`500ms`, `30s`, `10min`, `1h`), and also takes `10m`
/// for minutes, which CAF refuses. Returns std::nullopt for anything else.
std::optional<caf::timespan> parse_duration(std::string text) {
  auto n = text.size();
  if (n >= 2 && text[n - 1] == 'm'
      && std::isdigit(static_cast<unsigned char>(text[n - 2])))
    text += "in";
  auto value = caf::config_value::parse(text);
  if (!value)
    return std::nullopt;
  if (auto x = caf::get_if<caf::timespan>(&*value); x && *x > 0ns)
    return *x;
  return std::nullopt;
}

/// Splits the command line; returns a reason when it is wrong.
std::optional<std::string> parse_args(int argc, char** argv, cli_args& out) {
  bool operands_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value_of = [&](const char* prefix) -> std::optional<std::string> {
      auto n = std::string{prefix}.size();
      if (arg.compare(0, n, prefix) == 0)
        return arg.substr(n);
      return std::nullopt;
    };
    if (operands_only || arg.compare(0, 2, "--") != 0) {
      out.words.push_back(arg);
    } else if (arg == "--") {
      operands_only = true;
    } else if (auto x = value_of("--node=")) {
      out.node = *x;
    } else if (auto x = value_of("--timeout=")) {
      auto d = parse_duration(*x);
      if (!d)
        return "--timeout needs a positive duration such as 5s or 500ms";
      out.timeout = *d;
    } else if (auto x = value_of("--ttl=")) {
      out.ttl = parse_duration(*x);
      if (!out.ttl)
        return "--ttl needs a positive duration such as 500ms, 30s, 10m or 1h";
    } else if (arg == "--help") {
      return std::string{};
    } else {
      out.caf_options.push_back(arg);
    }
  }
  if (out.node.empty())
    return "--node=HOST:PORT is missing";
  if (out.words.empty())
    return "no command";
  auto& cmd = out.words[0];
  size_t operands = 0;
  if (cmd == "get" || cmd == "del")
    operands = 1;
  else if (cmd == "set")
    operands = 2;
  else if (cmd != "health" && cmd != "stats" && cmd != "metrics")
    return fmt::format("unknown command \"{}\"", cmd);
  if (out.words.size() != operands + 1)
    return fmt::format("{} takes {} operand(s)", cmd, operands);
  if (out.ttl && cmd != "set")
    return "--ttl belongs to set";
  return std::nullopt;
}

/// Ends the process when it outlives every bound it was given.
void start_watchdog(caf::timespan limit) {
  std::thread{[limit] {
    std::this_thread::sleep_for(limit);
    std::cerr << "cafcache-cli: gave up after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(limit)
                   .count()
              << " ms" << std::endl;
    std::_Exit(exit_unreachable);
  }}.detach();
}

class session {
public:
  session(caf::actor_system& sys, cache_actor cache, const cli_args& args)
    : self_(sys), cache_(std::move(cache)), args_(args) {
  }

  int run() {
    auto& cmd = args_.words[0];
    if (cmd == "get")
      return get(args_.words[1]);
    if (cmd == "set")
      return set(args_.words[1], args_.words[2]);
    if (cmd == "del")
      return invalidate(args_.words[1]);
    if (cmd == "health")
      return report<health_report>(health_atom::value);
    if (cmd == "metrics")
      return metrics();
    return report<stats_report>(stats_atom::value);
  }

private:
  int get(const std::string& key) {
    int rc = exit_ok;
    self_->request(cache_, args_.timeout, get_atom::value, key,
                   request_options{})
      .receive(
        [&](get_result& r) {
          if (r.found) {
            std::cout.write(r.value.data.data(),
                            static_cast<std::streamsize>(r.value.data.size()));
            std::cout.flush();
          } else {
            std::cerr << "cafcache-cli: " << key << ": not found" << std::endl;
            rc = exit_miss;
          }
        },
        [&](caf::error& err) { rc = failed(err); });
    return rc;
  }

  int set(const std::string& key, const std::string& value) {
    set_options opts;
    if (args_.ttl)
      opts.ttl = *args_.ttl;
    int rc = exit_ok;
    self_->request(cache_, args_.timeout, put_atom::value, key,
                   cache_value{codec_kind::raw, value}, opts)
      .receive([&](write_result& r) { print_target(r); },
               [&](caf::error& err) { rc = failed(err); });
    return rc;
  }

  int invalidate(const std::string& key) {
    int rc = exit_ok;
    self_->request(cache_, args_.timeout, delete_atom::value, key,
                   request_options{})
      .receive([&](write_result& r) { print_target(r); },
               [&](caf::error& err) { rc = failed(err); });
    return rc;
  }

  template <class Report, class Atom>
  int report(Atom what) {
    int rc = exit_ok;
    self_->request(cache_, args_.timeout, what)
      .receive([&](Report& r) { std::cout << to_json(r) << std::endl; },
               [&](caf::error& err) { rc = failed(err); });
    return rc;
  }

  /// The snapshot a scrape of the node's /metrics would serve, asked over
  /// CAF, so it works without the node's HTTP port.
  int metrics() {
    cache_collector collector{self_->system(), cache_, args_.timeout};
    auto snapshot = collector.snapshot();
    if (!snapshot)
      return failed(snapshot.error());
    prometheus::TextSerializer{}.Serialize(std::cout, to_families(*snapshot));
    std::cout.flush();
    return exit_ok;
  }

  static void print_target(const write_result& r) {
    std::cout << to_string(r.target) << std::endl;
  }

  /// cafcache errors are answers of the node; anything else (timeout, the
  /// node went away) means no answer.
  int failed(const caf::error& err) {
    std::cerr << "cafcache-cli: " << args_.node << ": " << to_sentence(err)
              << std::endl;
    return err.category() == errc_category ? exit_error : exit_unreachable;
  }

  caf::scoped_actor self_;
  cache_actor cache_;
  const cli_args& args_;
};

} // namespace

int main(int argc, char** argv) {
  cli_args args;
  if (auto why = parse_args(argc, argv, args)) {
    if (why->empty()) {
      std::cout << usage_text;
      return exit_ok;
    }
    return usage(*why);
  }
  std::string why;
  auto addr = parse_node_address(args.node, &why);
  if (!addr)
    return usage("--node: " + why);
  cli_config cfg;
  if (auto err = cfg.parse(args.caf_options))
    return usage("invalid option or config file: "
                 + caf::actor_system_config::render(err));
  auto tls = tls_enabled(cfg);
  if (tls) {
    if (auto why = check_tls(cfg); !why.empty())
      return usage(why);
    cfg.load<caf::openssl::manager>();
  }
  start_watchdog(args.timeout * 2 + 2s);
  caf::actor_system sys{cfg};
  auto cache = connect_cache(sys, *addr, tls, args.timeout);
  if (!cache) {
    std::cerr << "cafcache-cli: cannot reach " << args.node << ": "
              << to_sentence(cache.error()) << std::endl;
    return exit_unreachable;
  }
  return session{sys, *cache, args}.run();
}
