#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "runtime/basp_frames.hpp"

using namespace cafcache;

namespace {

/// A 32-byte header announcing `len`, followed by `len` payload bytes.
std::vector<std::byte> frame(uint32_t len, size_t payload) {
  std::vector<std::byte> out(basp_frames::header_size + payload, std::byte{0});
  out[0] = std::byte{0x02};
  for (int i = 0; i < 4; ++i)
    out[4 + i] = static_cast<std::byte>(len >> (24 - 8 * i));
  return out;
}

bool feed(basp_frames& f, const std::vector<std::byte>& bytes) {
  return f.feed(bytes.data(), bytes.size());
}

} // namespace

TEST_CASE("basp_frames: frames up to the limit pass, the first one larger is "
          "refused") {
  basp_frames f{100, 1000};
  CHECK(feed(f, frame(100, 100)));
  CHECK(feed(f, frame(1000, 1000)));
  CHECK(feed(f, frame(0, 0)));
  CHECK(f.frames() == 3);
  CHECK_FALSE(f.refused());
  CHECK_FALSE(feed(f, frame(1001, 0)));
  CHECK(f.refused());
  CHECK(f.refused_length() == 1001);
  // Once refused, always refused.
  CHECK_FALSE(feed(f, frame(1, 1)));
}

TEST_CASE("basp_frames: the first frame has a limit of its own") {
  basp_frames f{100, 1000};
  CHECK_FALSE(feed(f, frame(101, 0)));
  CHECK(f.refused_length() == 101);
  basp_frames g{100, 1000};
  CHECK(feed(g, frame(100, 100)));
  CHECK(feed(g, frame(101, 101)));
}

TEST_CASE("basp_frames: headers and payloads split at every byte") {
  std::vector<std::byte> stream;
  for (uint32_t len : {10u, 0u, 500u, 3u}) {
    auto f = frame(len, len);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  auto tail = frame(0xFFFFFFFFu, 0);
  stream.insert(stream.end(), tail.begin(), tail.end());
  basp_frames f{1000, 1000};
  size_t accepted = 0;
  for (auto b : stream) {
    if (!f.feed(&b, 1))
      break;
    ++accepted;
  }
  // Everything up to the last header byte of the 4 GiB frame was accepted.
  CHECK(accepted == stream.size() - 1);
  CHECK(f.frames() == 5);
  CHECK(f.refused_length() == 0xFFFFFFFFu);
}

TEST_CASE("basp_frames: a payload length is read big-endian") {
  basp_frames f{0x01020304u, 0x01020304u};
  auto ok = frame(0x01020304u, 0);
  CHECK(f.feed(ok.data(), ok.size()));
  basp_frames g{0x01020303u, 0x01020303u};
  CHECK_FALSE(g.feed(ok.data(), ok.size()));
}
