#include "runtime/resp.hpp"

#include <charconv>
#include <climits>
#include <new>
#include <stdexcept>
#include <utility>

#include <hiredis/hiredis.h>

#include "runtime/sync_redis.hpp"

namespace cafcache {

namespace {

struct command_deleter {
  void operator()(char* ptr) const noexcept {
    redisFreeCommand(ptr);
  }
};

// hiredis allocates one pointer per element an array header announces, before
// the first element arrives: "*2147483647\r\n" alone would take 16 GiB, and
// each nesting level as much again. Larger headers are refused; the cache's
// largest replies (SCAN batches) hold about a thousand elements.
constexpr int max_array_elements = 1 << 20;

// hiredis's own reply functions; it exposes them only through the readers it
// creates.
const redisReplyObjectFunctions& hiredis_functions() {
  static const redisReplyObjectFunctions functions = [] {
    std::unique_ptr<redisReader, void (*)(redisReader*)> probe{
      redisReaderCreate(), redisReaderFree};
    if (!probe)
      throw std::bad_alloc();
    return *probe->fn;
  }();
  return functions;
}

// Refusing makes hiredis report an out-of-memory error.
void* create_bounded_array(const redisReadTask* task, int elements) {
  if (elements > max_array_elements)
    return nullptr;
  return hiredis_functions().createArray(task, elements);
}

redisReplyObjectFunctions* bounded_functions() {
  static redisReplyObjectFunctions functions = [] {
    auto result = hiredis_functions();
    result.createArray = create_bounded_array;
    return result;
  }();
  return &functions;
}

// Upper bound of the RESP framing per argument: '$', up to 20 length digits
// and two CRLFs.
constexpr size_t max_framing_per_arg = 25;

// Upper bound of the array header: '*', up to 20 count digits and a CRLF.
constexpr size_t max_array_header = 23;

} // namespace

bool operator==(const resp_value& x, const resp_value& y) {
  return x.type == y.type && x.str == y.str && x.integer == y.integer
         && x.elements == y.elements;
}

bool operator!=(const resp_value& x, const resp_value& y) {
  return !(x == y);
}

const char* to_string(resp_value::kind x) {
  switch (x) {
    case resp_value::kind::nil:
      return "nil";
    case resp_value::kind::status:
      return "status";
    case resp_value::kind::error:
      return "error";
    case resp_value::kind::integer:
      return "integer";
    case resp_value::kind::string:
      return "string";
    case resp_value::kind::array:
      return "array";
  }
  return "<invalid>";
}

void append_command(std::string& buf, const std::vector<std::string>& argv) {
  // hiredis 0.14 sums the command length in an int; checking first keeps an
  // oversized command from overflowing that sum and the buffer it sizes.
  constexpr auto limit = static_cast<size_t>(INT_MAX);
  size_t bound = max_array_header;
  for (const auto& arg : argv) {
    if (arg.size() + max_framing_per_arg > limit - bound)
      throw std::length_error("cafcache::append_command: command too large");
    bound += arg.size() + max_framing_per_arg;
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& arg : argv) {
    ptrs.push_back(arg.data());
    lens.push_back(arg.size());
  }
  char* raw = nullptr;
  auto len = redisFormatCommandArgv(&raw, static_cast<int>(argv.size()),
                                    ptrs.data(), lens.data());
  if (len < 0)
    throw std::bad_alloc();
  std::unique_ptr<char, command_deleter> cmd{raw};
  buf.append(cmd.get(), static_cast<size_t>(len));
}

namespace {

void append_length(std::vector<char>& buf, char marker, size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
  (void) ec;
  buf.push_back(marker);
  buf.insert(buf.end(), digits, end);
  buf.push_back('\r');
  buf.push_back('\n');
}

/// One bulk string made of `parts`, concatenated.
template <class... Parts>
void append_bulk(std::vector<char>& buf, Parts... parts) {
  append_length(buf, '$', (parts.size() + ...));
  (buf.insert(buf.end(), parts.begin(), parts.end()), ...);
  buf.push_back('\r');
  buf.push_back('\n');
}

} // namespace

void append_get(std::vector<char>& buf, std::string_view prefix,
                std::string_view key) {
  append_length(buf, '*', 2);
  append_bulk(buf, std::string_view{"GET"});
  append_bulk(buf, prefix, key);
}

void append_set(std::vector<char>& buf, std::string_view prefix,
                std::string_view key, std::string_view stored,
                int64_t ttl_ms) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), ttl_ms);
  (void) ec;
  append_length(buf, '*', 5);
  append_bulk(buf, std::string_view{"SET"});
  append_bulk(buf, prefix, key);
  append_bulk(buf, stored);
  append_bulk(buf, std::string_view{"PX"});
  append_bulk(buf, std::string_view{digits, static_cast<size_t>(end - digits)});
}

void append_unlink(std::vector<char>& buf, std::string_view prefix,
                   std::string_view key) {
  append_length(buf, '*', 2);
  append_bulk(buf, std::string_view{"UNLINK"});
  append_bulk(buf, prefix, key);
}

void append_publish(std::vector<char>& buf, std::string_view channel,
                    std::string_view payload) {
  append_length(buf, '*', 3);
  append_bulk(buf, std::string_view{"PUBLISH"});
  append_bulk(buf, channel);
  append_bulk(buf, payload);
}

void resp_reader::reader_deleter::operator()(redisReader* ptr) const noexcept {
  redisReaderFree(ptr);
}

resp_reader::resp_reader()
  : reader_(redisReaderCreateWithFunctions(bounded_functions())) {
  if (!reader_)
    throw std::bad_alloc();
}

resp_reader::~resp_reader() = default;

resp_reader::resp_reader(resp_reader&& other) noexcept = default;

resp_reader& resp_reader::operator=(resp_reader&& other) noexcept = default;

void resp_reader::feed(const char* data, size_t size) {
  // The result is deliberately ignored: hiredis records any failure in the
  // reader, and next() reports it as protocol_error.
  static_cast<void>(redisReaderFeed(reader_.get(), data, size));
}

resp_reader::status resp_reader::next(resp_value& out) {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK)
    return status::protocol_error;
  if (raw == nullptr)
    return status::need_more;
  redis_reply_ptr reply{
    static_cast<redisReply*>(raw)};
  out = to_resp_value(*reply);
  return status::reply;
}

std::string resp_reader::error_text() const {
  if (reader_->err == REDIS_ERR_OOM)
    return "an array reply announced more than "
           + std::to_string(max_array_elements)
           + " elements, or hiredis ran out of memory";
  return reader_->errstr;
}

bool is_pubsub_message(const resp_value& x) {
  return x.type == resp_value::kind::array && x.elements.size() == 3
         && x.elements[0].type == resp_value::kind::string
         && x.elements[0].str == "message";
}

bool is_readonly(const resp_value& x) {
  return x.is_error() && x.str.compare(0, 8, "READONLY") == 0;
}

} // namespace cafcache
