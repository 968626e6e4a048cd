// Fuzz target for RESP reply parsing (runtime/resp.cpp): arbitrary bytes, fed
// to resp_reader in one piece and again in arbitrary chunks, must give the
// same replies; every reply must be well-formed, parse back from its own
// encoding, and go through the codec calls the cache makes on a reply. The
// rest of the input also drives append_command, whose output must parse back
// into the arguments.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/resp.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using cafcache::resp_reader;
using cafcache::resp_value;
using kind = cafcache::resp_value::kind;
using status = cafcache::resp_reader::status;

// hiredis 0.14 keeps a stack of 9 read tasks, so replies nest at most 8 deep.
constexpr size_t max_depth = 9;

// All replies a reader produced from one stream, and how it ended.
struct parse_result {
  std::vector<resp_value> replies;
  bool protocol_error = false;
};

// Pops every complete reply; returns false once the stream is corrupt.
bool drain(resp_reader& reader, parse_result& result) {
  for (;;) {
    resp_value reply;
    switch (reader.next(reply)) {
      case status::reply:
        result.replies.push_back(std::move(reply));
        break;
      case status::need_more:
        FUZZ_CHECK(reply == resp_value{});
        return true;
      case status::protocol_error:
        FUZZ_CHECK(reply == resp_value{});
        FUZZ_CHECK(!reader.error_text().empty());
        result.protocol_error = true;
        return false;
    }
  }
}

parse_result parse_whole(std::string_view stream) {
  parse_result result;
  resp_reader reader;
  reader.feed(stream.data(), stream.size());
  drain(reader, result);
  return result;
}

// Splits the stream at pseudo-random points derived from seed; some seeds
// also move the reader between chunks.
parse_result parse_chunked(std::string_view stream, uint8_t seed) {
  static constexpr size_t max_chunk[] = {1, 2, 3, 7, 16, 64, 512, 4096};
  auto limit = max_chunk[seed & 7];
  bool move_between_chunks = (seed & 8) != 0;
  uint32_t state = seed * 2654435761u + 1;
  parse_result result;
  resp_reader reader;
  size_t pos = 0;
  while (pos < stream.size()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    auto len = std::min<size_t>(1 + state % limit, stream.size() - pos);
    reader.feed(stream.data() + pos, len);
    pos += len;
    if (!drain(reader, result))
      break;
    if (move_between_chunks) {
      resp_reader moved{std::move(reader)};
      reader = std::move(moved);
    }
  }
  return result;
}

// Checks that only the members of the reply's form are set.
void check_shape(const resp_value& x, size_t depth) {
  FUZZ_CHECK(depth < max_depth);
  switch (x.type) {
    case kind::nil:
      FUZZ_CHECK(x.str.empty() && x.integer == 0 && x.elements.empty());
      break;
    case kind::status:
    case kind::error:
      FUZZ_CHECK(x.integer == 0 && x.elements.empty());
      FUZZ_CHECK(x.str.find("\r\n") == std::string::npos);
      break;
    case kind::integer:
      FUZZ_CHECK(x.str.empty() && x.elements.empty());
      break;
    case kind::string:
      FUZZ_CHECK(x.integer == 0 && x.elements.empty());
      break;
    case kind::array:
      FUZZ_CHECK(x.str.empty() && x.integer == 0);
      for (const auto& element : x.elements)
        check_shape(element, depth + 1);
      break;
    default:
      FUZZ_CHECK(!"reply of unknown kind");
  }
}

// Writes the reply as a server would send it.
void encode(const resp_value& x, std::string& out) {
  switch (x.type) {
    case kind::nil:
      out += "$-1\r\n";
      break;
    case kind::status:
      out += '+';
      out += x.str;
      out += "\r\n";
      break;
    case kind::error:
      out += '-';
      out += x.str;
      out += "\r\n";
      break;
    case kind::integer:
      out += ':';
      out += std::to_string(x.integer);
      out += "\r\n";
      break;
    case kind::string:
      out += '$';
      out += std::to_string(x.str.size());
      out += "\r\n";
      out += x.str;
      out += "\r\n";
      break;
    case kind::array:
      out += '*';
      out += std::to_string(x.elements.size());
      out += "\r\n";
      for (const auto& element : x.elements)
        encode(element, out);
      break;
  }
}

// The calls the cache makes on a bulk string it got back from GET: negative
// marker, envelope, soft expiry. Their own properties are the codec target's
// business; here they only have to survive whatever a server sends.
void interpret(const resp_value& x) {
  if (x.type == kind::string) {
    bool negative = cafcache::is_negative_envelope(x.str);
    auto value = cafcache::decode_envelope(x.str);
    FUZZ_CHECK(!(negative && value));
    static_cast<void>(cafcache::soft_expiry_of(x.str));
  }
  for (const auto& element : x.elements)
    interpret(element);
}

// Cuts the bytes into arguments: each starts with a length byte.
std::vector<std::string> to_argv(std::string_view bytes) {
  std::vector<std::string> argv;
  while (!bytes.empty()) {
    auto len = std::min<size_t>(static_cast<uint8_t>(bytes[0]),
                                bytes.size() - 1);
    argv.emplace_back(bytes.substr(1, len));
    bytes.remove_prefix(1 + len);
  }
  return argv;
}

void check_command(std::string_view bytes) {
  auto argv = to_argv(bytes);
  std::string buf = "prefix";
  cafcache::append_command(buf, argv);
  FUZZ_CHECK(buf.compare(0, 6, "prefix") == 0);
  auto parsed = parse_whole(std::string_view{buf}.substr(6));
  FUZZ_CHECK(!parsed.protocol_error && parsed.replies.size() == 1);
  const auto& cmd = parsed.replies.front();
  FUZZ_CHECK(cmd.type == kind::array && cmd.elements.size() == argv.size());
  for (size_t i = 0; i < argv.size(); ++i)
    FUZZ_CHECK(cmd.elements[i].type == kind::string
               && cmd.elements[i].str == argv[i]);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  auto seed = data[0];
  std::string_view stream{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto whole = parse_whole(stream);
  auto chunked = parse_chunked(stream, seed);
  FUZZ_CHECK(whole.protocol_error == chunked.protocol_error);
  FUZZ_CHECK(whole.replies == chunked.replies);
  for (const auto& reply : whole.replies) {
    check_shape(reply, 0);
    interpret(reply);
    std::string again;
    encode(reply, again);
    auto reparsed = parse_whole(again);
    FUZZ_CHECK(!reparsed.protocol_error && reparsed.replies.size() == 1);
    FUZZ_CHECK(reparsed.replies.front() == reply);
  }
  check_command(stream);
  return 0;
}
