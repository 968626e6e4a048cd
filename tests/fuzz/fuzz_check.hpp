#pragma once

#include <cstdio>
#include <cstdlib>

namespace cafcache::fuzz {

/// Reports a violated property and aborts, so that libFuzzer saves the input
/// as a crash. Used instead of assert, which NDEBUG would silence.
[[noreturn]] inline void property_failed(const char* what, const char* file,
                                         int line) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what);
  std::abort();
}

} // namespace cafcache::fuzz

/// Aborts the fuzz target when the condition is false. Variadic so that
/// template argument lists need no extra parentheses.
#define FUZZ_CHECK(...)                                                        \
  ((__VA_ARGS__) ? static_cast<void>(0)                                        \
                 : ::cafcache::fuzz::property_failed(#__VA_ARGS__, __FILE__,   \
                                                     __LINE__))
