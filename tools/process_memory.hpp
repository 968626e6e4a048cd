#pragma once

#include <cstdint>
#include <fstream>

#include <malloc.h>

#include <unistd.h>

namespace cafcache {

/// Resident set size of this process in bytes (Linux, /proc/self/statm).
inline uint64_t rss_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  uint64_t pages = 0;
  uint64_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

/// Bytes malloc has handed out and not got back, over all arenas (glibc's
/// `mallinfo2().uordblks`). RSS beyond it is memory the allocator keeps free.
inline uint64_t heap_in_use_bytes() {
  return ::mallinfo2().uordblks;
}

} // namespace cafcache
