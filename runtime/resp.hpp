#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caf/meta/type_name.hpp"

struct redisReader;

namespace cafcache {

/// One RESP2 reply.
struct resp_value {
  /// Which of the RESP2 reply forms this value holds.
  enum class kind : uint8_t {
    /// Nil bulk string or nil array; hiredis reports both the same way.
    nil,
    /// Simple string such as "OK"; the text is in `str`.
    status,
    /// Error reply; the text is in `str`.
    error,
    /// Integer reply; the number is in `integer`.
    integer,
    /// Bulk string; the bytes are in `str`.
    string,
    /// Array reply; the items are in `elements`.
    array,
  };

  /// The reply form; selects which of the other members is meaningful.
  kind type = kind::nil;

  /// Status text, error text or bulk string bytes (binary-safe).
  std::string str;

  /// The number of an integer reply.
  int64_t integer = 0;

  /// The items of an array reply.
  std::vector<resp_value> elements;

  /// Returns whether this is a nil reply.
  bool is_nil() const noexcept {
    return type == kind::nil;
  }

  /// Returns whether this is an error reply.
  bool is_error() const noexcept {
    return type == kind::error;
  }

  /// Returns whether this is the status reply "OK".
  bool is_ok() const noexcept {
    return type == kind::status && str == "OK";
  }
};

/// Returns whether both replies have the same form and content.
bool operator==(const resp_value& x, const resp_value& y);

/// Returns whether the replies differ in form or content.
bool operator!=(const resp_value& x, const resp_value& y);

/// Returns the name of the reply form, "<invalid>" for values outside the enum
/// (which only a foreign serializer can produce).
const char* to_string(resp_value::kind x);

/// Makes resp_value serializable for CAF messages; enums travel as their
/// underlying integer.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resp_value& x) {
  return f(caf::meta::type_name("cafcache.resp_value"), x.type, x.str,
           x.integer, x.elements);
}

/// Appends the RESP encoding of argv (binary-safe) to buf. Throws
/// std::length_error when the encoded command would exceed INT_MAX bytes
/// (hiredis counts in int) and std::bad_alloc when hiredis runs out of memory;
/// buf is unchanged in both cases.
void append_command(std::string& buf, const std::vector<std::string>& argv);

/// Appends `GET <prefix><key>` in RESP straight to buf, without an argv.
/// The key's length is bounded by the cache (`max-key-bytes`).
void append_get(std::vector<char>& buf, std::string_view prefix,
                std::string_view key);

/// Appends `SET <prefix><key> <stored> PX <ttl_ms>` likewise (`stored` is
/// bounded by `max-value-bytes`).
void append_set(std::vector<char>& buf, std::string_view prefix,
                std::string_view key, std::string_view stored,
                int64_t ttl_ms);

/// Appends `UNLINK <prefix><key>` likewise.
void append_unlink(std::vector<char>& buf, std::string_view prefix,
                   std::string_view key);

/// Appends `PUBLISH <channel> <payload>` likewise.
void append_publish(std::vector<char>& buf, std::string_view channel,
                    std::string_view payload);

/// Incremental parser over hiredis's redisReader. A moved-from reader may only
/// be destroyed or assigned to. An array announcing more than 2^20 elements
/// is a protocol error: hiredis would allocate for all of them up front.
class resp_reader {
public:
  /// Outcome of next().
  enum class status {
    /// A complete reply was stored in the output argument.
    reply,
    /// The buffered bytes do not yet hold a complete reply.
    need_more,
    /// The stream is corrupt; the reader stays in this state for good.
    protocol_error,
  };

  /// Creates an empty reader. Throws std::bad_alloc when hiredis cannot
  /// allocate its reader.
  resp_reader();

  /// Releases the hiredis reader and any buffered bytes.
  ~resp_reader();

  /// Takes over the other reader's buffered bytes and state.
  resp_reader(resp_reader&& other) noexcept;

  /// Takes over the other reader's buffered bytes and state.
  resp_reader& operator=(resp_reader&& other) noexcept;

  /// Not copyable: the hiredis reader has a single owner.
  resp_reader(const resp_reader&) = delete;

  /// Not copyable: the hiredis reader has a single owner.
  resp_reader& operator=(const resp_reader&) = delete;

  /// Feeds bytes that arrived from the socket. Allocation failure inside
  /// hiredis surfaces as protocol_error from the next call to next().
  void feed(const char* data, size_t size);

  /// Pops the next complete reply into out; out is untouched unless the result
  /// is status::reply. Throws std::bad_alloc when copying the reply fails.
  status next(resp_value& out);

  /// Returns hiredis's error text after protocol_error, an empty string before.
  std::string error_text() const;

private:
  struct reader_deleter {
    void operator()(redisReader* ptr) const noexcept;
  };

  std::unique_ptr<redisReader, reader_deleter> reader_;
};

/// A message a subscribed connection receives without asking:
/// ["message", channel, payload].
bool is_pubsub_message(const resp_value& x);

/// A server that is a replica now refuses writes with `-READONLY ...`.
bool is_readonly(const resp_value& x);

} // namespace cafcache
