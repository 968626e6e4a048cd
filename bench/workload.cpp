#include "bench/workload.hpp"

#include <dlfcn.h>

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

using namespace std::chrono_literals;

namespace cafcache {

namespace {

/// What an application stores with the msgpack codec: a map with named
/// fields, one of them padding to the value size.
struct profile {
  uint64_t id = 4711;
  std::string name = "user-4711";
  double score = 0.75;
  std::vector<std::string> tags{"beta", "eu-west"};
  std::string bio;
  MSGPACK_DEFINE_MAP(id, name, score, tags, bio);
};

} // namespace

/// The value every SET writes: `value_bytes` of 'v' as raw bytes, or a
/// profile of at most `value_bytes` with the msgpack codec.
cache_value bench_value(const bench_config& cfg) {
  if (cfg.codec != "msgpack")
    return {codec_kind::raw, std::string(cfg.value_bytes, 'v')};
  profile p;
  p.bio.assign(cfg.value_bytes, 'v');
  auto packed = pack(p);
  while (packed.data.size() > cfg.value_bytes && !p.bio.empty()) {
    p.bio.pop_back();
    packed = pack(p);
  }
  return packed;
}

/// Returns once `cache` has taken every earlier message of `self`.
void round_trip(caf::scoped_actor& self, const cache_actor& cache) {
  self->request(cache, caf::infinite, stats_atom::value)
    .receive([](stats_report&) {}, [](caf::error&) {});
}

void round_trip(caf::scoped_actor& self, const bare_actor& bare) {
  self->request(bare, caf::infinite, get_atom::value, std::string{},
                request_options{})
    .receive([](get_result&) {}, [](caf::error&) {});
}

/// malloc calls so far, when bench/alloc_counter.c is preloaded.
std::optional<uint64_t> allocations() {
  using counter = unsigned long (*)();
  static auto fn = reinterpret_cast<counter>(
    ::dlsym(RTLD_DEFAULT, "cafcache_alloc_count"));
  if (fn == nullptr)
    return std::nullopt;
  return fn();
}

/// User + system CPU time this process used so far.
std::chrono::microseconds own_cpu() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return std::chrono::seconds{t.tv_sec}
           + std::chrono::microseconds{t.tv_usec};
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

/// User + system CPU time of process `pid` so far (clock-tick resolution),
/// zero when it cannot be read.
std::chrono::microseconds cpu_of(pid_t pid) {
  std::ifstream in{fmt::format("/proc/{}/stat", pid)};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  // Fields after the command name, which is in parentheses and may hold
  // spaces: state is field 3, utime 14, stime 15.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream fields{text.substr(close + 2)};
  std::string skip;
  for (int i = 3; i < 14; ++i)
    fields >> skip;
  uint64_t utime = 0, stime = 0;
  fields >> utime >> stime;
  auto tick_us = 1000000 / ::sysconf(_SC_CLK_TCK);
  return std::chrono::microseconds{(utime + stime) * tick_us};
}

} // namespace cafcache
