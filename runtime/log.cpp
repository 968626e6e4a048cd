#include "runtime/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace cafcache {

namespace {

bool needs_quotes(std::string_view x) {
  if (x.empty())
    return true;
  for (auto c : x)
    if (c == ' ' || c == '"' || c == '=' || c == '\\'
        || static_cast<unsigned char>(c) < 0x20)
      return true;
  return false;
}

void append_value(std::string& out, std::string_view x) {
  if (!needs_quotes(x)) {
    out += x;
    return;
  }
  out += '"';
  for (auto c : x) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x",
                        static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string now_utc() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

} // namespace

bool parse_log_level(std::string_view text, log_level& out) {
  for (auto x : {log_level::debug, log_level::info, log_level::warn,
                 log_level::error, log_level::off})
    if (text == to_string(x)) {
      out = x;
      return true;
    }
  return false;
}

const char* to_string(log_level x) {
  switch (x) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::off:
      return "off";
  }
  return "?";
}

std::string logger::format(log_level level, std::string_view time,
                           std::string_view event,
                           std::initializer_list<field> fields) {
  std::string out = "level=";
  out += to_string(level);
  out += " time=";
  out += time;
  out += " event=";
  append_value(out, event);
  for (auto& [key, value] : fields) {
    if (value.empty())
      continue;
    out += ' ';
    out += key;
    out += '=';
    append_value(out, value);
  }
  out += '\n';
  return out;
}

void logger::write(log_level level, std::string_view event,
                   std::initializer_list<field> fields) const {
  if (!enabled(level))
    return;
  auto line = format(level, now_utc(), event, fields);
  // One write per line; a failing stderr is no reason to disturb the cache.
  auto n = ::write(STDERR_FILENO, line.data(), line.size());
  static_cast<void>(n);
}

} // namespace cafcache
