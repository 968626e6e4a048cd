#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include <malloc.h>

#include <unistd.h>

namespace cafcache {

/// Resident set size of process `pid` ("self" for this one) in bytes
/// (Linux, /proc/PID/statm); 0 when it cannot be read.
inline uint64_t rss_bytes_of(const std::string& pid) {
  std::ifstream statm{"/proc/" + pid + "/statm"};
  uint64_t pages = 0;
  uint64_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

/// Resident set size of this process in bytes.
inline uint64_t rss_bytes() {
  return rss_bytes_of("self");
}

/// Bytes malloc has handed out and not got back, over all arenas (glibc's
/// `mallinfo2().uordblks`). RSS beyond it is memory the allocator keeps free.
inline uint64_t heap_in_use_bytes() {
  return ::mallinfo2().uordblks;
}

} // namespace cafcache
