#pragma once

#include <string>

#include "messages/types.hpp"

namespace cafcache {

/// Renders a health report as one JSON object (for the CLI, HTTP endpoints
/// and logs). The Redis URL in it is already redacted.
std::string to_json(const health_report& report);

/// Renders the counters as one JSON object.
std::string to_json(const stats_report& stats);

} // namespace cafcache
