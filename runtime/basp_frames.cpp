#include "runtime/basp_frames.hpp"

#include <algorithm>

namespace cafcache {

basp_frames::basp_frames(uint32_t first_limit, uint32_t limit)
  : first_limit_(first_limit), limit_(limit) {
  // nop
}

bool basp_frames::feed(const std::byte* data, size_t n) {
  while (n > 0 && !refused_) {
    if (payload_left_ > 0) {
      auto k = std::min<uint64_t>(payload_left_, n);
      payload_left_ -= k;
      data += k;
      n -= k;
      continue;
    }
    auto k = std::min(header_size - header_fill_, n);
    for (size_t i = 0; i < k; ++i)
      header_[header_fill_ + i] = static_cast<unsigned char>(data[i]);
    header_fill_ += k;
    data += k;
    n -= k;
    if (header_fill_ == header_size && !on_header())
      return false;
  }
  return !refused_;
}

bool basp_frames::on_header() {
  header_fill_ = 0;
  uint32_t len = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16)
                 | (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
  auto allowed = frames_ == 0 ? first_limit_ : limit_;
  ++frames_;
  if (len > allowed) {
    refused_ = true;
    refused_length_ = len;
    return false;
  }
  payload_left_ = len;
  return true;
}

} // namespace cafcache
