#include "messages/metrics_report.hpp"

namespace cafcache {

void bucket_histogram::merge(const bucket_histogram& other) {
  if (other.counts.empty())
    return;
  if (counts.size() < other.counts.size())
    counts.resize(other.counts.size(), 0);
  for (size_t i = 0; i < other.counts.size(); ++i)
    counts[i] += other.counts[i];
  sum += other.sum;
}

bucket_histogram bucket_histogram::take() {
  bucket_histogram out;
  std::swap(out, *this);
  return out;
}

uint64_t bucket_histogram::count() const {
  uint64_t n = 0;
  for (auto x : counts)
    n += x;
  return n;
}

const char* to_string(metric_op x) {
  switch (x) {
    case metric_op::get:
      return "get";
    case metric_op::set:
      return "set";
    case metric_op::invalidate:
      return "invalidate";
    case metric_op::invalidate_tag:
      return "invalidate_tag";
    case metric_op::get_or_load:
      return "get_or_load";
  }
  return "?";
}

const char* to_string(metric_outcome x) {
  switch (x) {
    case metric_outcome::hit:
      return "hit";
    case metric_outcome::miss:
      return "miss";
    case metric_outcome::redis:
      return "redis";
    case metric_outcome::fallback:
      return "fallback";
    case metric_outcome::error:
      return "error";
  }
  return "?";
}

} // namespace cafcache
