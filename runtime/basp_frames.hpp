#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace cafcache {

/// Follows the frames of one CAF 0.17 BASP byte stream (peer to node) and
/// checks each frame's announced payload length before the node sees it.
///
/// A BASP frame is a 32-byte header (`caf/io/basp/header.hpp`: operation,
/// two padding bytes, flags, then `payload_len` as a big-endian uint32 at
/// offset 4, operation data and two actor ids) followed by `payload_len`
/// bytes. CAF allocates a frame's whole payload as soon as it has read the
/// header, so a peer that announces 4 GiB makes the node allocate 4 GiB per
/// connection. Feeding the stream through this class first refuses such
/// frames while only their header has arrived.
class basp_frames {
public:
  /// Size of a BASP 0.17 header on the wire.
  static constexpr size_t header_size = 32;

  /// `first_limit` applies to the first frame (the client handshake), `limit`
  /// to every later one.
  basp_frames(uint32_t first_limit, uint32_t limit);

  /// Consumes the next `n` bytes of the stream. Returns false as soon as a
  /// header announces more than its limit; the stream must then be closed
  /// (every later call returns false too).
  bool feed(const std::byte* data, size_t n);

  /// Whether a frame was refused.
  bool refused() const noexcept {
    return refused_;
  }

  /// The payload length the refused frame announced.
  uint32_t refused_length() const noexcept {
    return refused_length_;
  }

  /// Complete headers seen so far.
  uint64_t frames() const noexcept {
    return frames_;
  }

private:
  bool on_header();

  uint32_t first_limit_;
  uint32_t limit_;
  std::array<unsigned char, header_size> header_{};
  size_t header_fill_ = 0;
  uint64_t payload_left_ = 0;
  uint64_t frames_ = 0;
  bool refused_ = false;
  uint32_t refused_length_ = 0;
};

} // namespace cafcache
