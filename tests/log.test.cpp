// Structured log lines: format, quoting, levels.

#include <doctest/doctest.h>

#include "runtime/log.hpp"

using namespace cafcache;

TEST_CASE("log lines are key=value fields with quoted values") {
  auto line = logger::format(log_level::warn, "2026-01-02T03:04:05.000Z",
                             "request_failed",
                             {{"op", "get"},
                              {"error", "no answer \"in time\""},
                              {"correlation_id", ""}});
  CHECK(line
        == "level=warn time=2026-01-02T03:04:05.000Z event=request_failed "
           "op=get error=\"no answer \\\"in time\\\"\"\n");
  log_level level;
  CHECK(parse_log_level("debug", level));
  CHECK(level == log_level::debug);
  CHECK_FALSE(parse_log_level("verbose", level));
  CHECK(logger{log_level::warn}.enabled(log_level::error));
  CHECK_FALSE(logger{log_level::warn}.enabled(log_level::info));
  CHECK_FALSE(logger{log_level::off}.enabled(log_level::error));
}

TEST_CASE("values with control characters stay on one line") {
  auto line = logger::format(log_level::info, "t", "e", {{"key", "a\nb\x01"}});
  CHECK(line == "level=info time=t event=e key=\"a\\nb\\x01\"\n");
}
