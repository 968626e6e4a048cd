#pragma once

#include <cstddef>
#include <vector>

#include <caf/expected.hpp>
#include <caf/typed_response_promise.hpp>

namespace cafcache {

/// The answer of a bulk request (`mget`, `mset`) gathered from parts: one
/// result per key in the order of the request, delivered when the last part
/// is in, or the first error instead.
template <class T>
struct bulk_answers {
  std::vector<T> results;
  size_t left = 0;
  bool failed = false;
  caf::typed_response_promise<std::vector<T>> rp;

  /// A part of one key, at `index`.
  void set(size_t index, caf::expected<T> x) {
    if (failed)
      return;
    if (!x) {
      fail(std::move(x.error()));
      return;
    }
    results[index] = std::move(*x);
    one_done();
  }

  void fail(caf::error err) {
    if (failed)
      return;
    failed = true;
    rp.deliver(std::move(err));
  }

private:
  void one_done() {
    if (--left == 0)
      rp.deliver(std::move(results));
  }
};

} // namespace cafcache
