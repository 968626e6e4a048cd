#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cafcache {

/// Severity of a log line.
enum class log_level : uint8_t { debug, info, warn, error, off };

/// Parses "debug", "info", "warn", "error" or "off"; false when `text` is
/// none of them.
bool parse_log_level(std::string_view text, log_level& out);

/// Returns the name `parse_log_level` reads.
const char* to_string(log_level x);

/// Structured log lines on stderr, one per event:
/// `level=warn time=2026-01-02T03:04:05.678Z event=breaker to=open`.
/// Values with spaces, quotes or `=` are quoted with `"` and escaped, so a
/// line always splits into key=value fields. Each line leaves in one write(2),
/// so lines of concurrent actors do not interleave. Fields with an empty
/// value are left out. Callers never pass
/// secrets: URLs go through `redacted` first.
class logger {
public:
  using field = std::pair<std::string_view, std::string_view>;

  explicit logger(log_level threshold = log_level::info)
    : threshold_(threshold) {
    // Nothing to do.
  }

  /// A logger at the level `name` names (`parse_log_level`), `info` when it
  /// names none.
  static logger named(std::string_view name) {
    auto level = log_level::info;
    parse_log_level(name, level);
    return logger{level};
  }

  /// True when lines of `level` are written; check it before building
  /// fields that cost something.
  bool enabled(log_level level) const {
    return level >= threshold_ && threshold_ != log_level::off;
  }

  /// Writes one line when `level` is enabled.
  void write(log_level level, std::string_view event,
             std::initializer_list<field> fields) const;

  /// The line `write` would write, without the time (for tests).
  static std::string format(log_level level, std::string_view time,
                            std::string_view event,
                            std::initializer_list<field> fields);

private:
  log_level threshold_;
};

} // namespace cafcache
