/* Counts calls of malloc (operator new calls it too) for cafcache-bench:
 * LD_PRELOAD=build/bench/libcafcache-alloc-counter.so cafcache-bench ...
 * The benchmark finds cafcache_alloc_count() and reports allocations per
 * request (requesters included, as for CPU per request). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

static atomic_ulong count;
static void* (*next_malloc)(size_t);

void* malloc(size_t size) {
  if (next_malloc == NULL)
    next_malloc = (void* (*)(size_t)) dlsym(RTLD_NEXT, "malloc");
  atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
  return next_malloc(size);
}

unsigned long cafcache_alloc_count(void) {
  return atomic_load_explicit(&count, memory_order_relaxed);
}
