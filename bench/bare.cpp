// The hand-written baseline of cafcache-bench (see bench/bare.hpp): the
// program a CAF user would write with hiredis in place of cafcache.

#include "bench/bare.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <hiredis/hiredis.h>

namespace cafcache {

namespace {

/// One Redis connection. The front delegates to it, so it answers clients.
using connection_actor = caf::io::typed_broker<
  caf::reacts_to<caf::io::new_data_msg>,
  caf::reacts_to<caf::io::connection_closed_msg>,
  caf::replies_to<get_atom, std::string>::with<get_result>,
  caf::replies_to<put_atom, std::string, std::string, caf::timespan>::with<
    write_result>>;

/// The reply parser, and the requests sent and not yet answered in the order
/// Redis answers them.
struct connection_state {
  struct pending {
    caf::response_promise promise;
    bool is_get;
  };

  connection_state() : reader(redisReaderCreate()) {
    if (reader == nullptr)
      throw std::bad_alloc{};
  }

  ~connection_state() {
    redisReaderFree(reader);
  }

  connection_state(const connection_state&) = delete;
  connection_state& operator=(const connection_state&) = delete;

  redisReader* reader;
  std::deque<pending> queue;
};

/// Appends the RESP encoding of argv to the write buffer. CAF writes the
/// buffer once the socket is writable, so commands that arrive together
/// leave in one write.
template <size_t N>
void write_command(connection_actor* self,
                   caf::io::connection_handle hdl,
                   const std::array<std::string_view, N>& args) {
  std::array<const char*, N> argv;
  std::array<size_t, N> lengths;
  for (size_t i = 0; i < N; ++i) {
    argv[i] = args[i].data();
    lengths[i] = args[i].size();
  }
  char* cmd = nullptr;
  // Fails only when it cannot allocate.
  auto len = redisFormatCommandArgv(&cmd, static_cast<int>(N), argv.data(),
                                    lengths.data());
  if (len < 0)
    throw std::bad_alloc{};
  auto& buf = self->wr_buf(hdl);
  buf.insert(buf.end(), cmd, cmd + len);
  redisFreeCommand(cmd);
  self->flush(hdl);
}

void answer(connection_state::pending& p, const redisReply& reply,
            codec_kind codec) {
  if (reply.type == REDIS_REPLY_ERROR)
    p.promise.deliver(caf::make_error(caf::sec::runtime_error,
                                      std::string{reply.str, reply.len}));
  else if (!p.is_get)
    p.promise.deliver(write_result{tier::redis});
  else if (reply.type == REDIS_REPLY_STRING)
    p.promise.deliver(
      get_result{true, cache_value{codec, std::string{reply.str, reply.len}},
                 tier::redis, false});
  else
    p.promise.deliver(get_result{});
}

connection_actor::behavior_type connection(connection_actor* self,
                                           caf::io::connection_handle hdl,
                                           codec_kind codec) {
  auto st = std::make_shared<connection_state>();
  self->configure_read(hdl, caf::io::receive_policy::at_most(64 * 1024));
  auto fail_all = [=] {
    for (auto& p : st->queue)
      p.promise.deliver(caf::make_error(caf::sec::socket_disconnected));
    st->queue.clear();
    self->close_all();
    self->quit(caf::sec::socket_disconnected);
  };
  return {
    [=](const caf::io::new_data_msg& msg) {
      if (redisReaderFeed(st->reader, msg.buf.data(), msg.buf.size())
          != REDIS_OK)
        return fail_all();
      void* reply = nullptr;
      while (!st->queue.empty()) {
        if (redisReaderGetReply(st->reader, &reply) != REDIS_OK)
          return fail_all();
        if (reply == nullptr)
          return;
        answer(st->queue.front(), *static_cast<redisReply*>(reply), codec);
        st->queue.pop_front();
        freeReplyObject(reply);
      }
    },
    [=](const caf::io::connection_closed_msg&) { fail_all(); },
    [=](get_atom, const std::string& key) {
      write_command<2>(self, hdl, {"GET", key});
      st->queue.push_back({self->make_response_promise(), true});
      return caf::delegated<get_result>{};
    },
    [=](put_atom, const std::string& key, const std::string& value,
        caf::timespan ttl) {
      auto ms = std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count());
      write_command<5>(self, hdl, {"SET", key, value, "PX", ms});
      st->queue.push_back({self->make_response_promise(), false});
      return caf::delegated<write_result>{};
    },
  };
}

using connection_handle = connection_actor::actor_hdl;

bare_actor::behavior_type front(bare_actor::pointer self,
                                std::vector<connection_handle> connections,
                                bare_options opts) {
  for (auto& c : connections)
    self->link_to(c);
  // A key's writes and reads share one connection, so they stay in order.
  auto owner
    = [connections](const std::string& key) -> const connection_handle& {
    return connections[std::hash<std::string>{}(key) % connections.size()];
  };
  return {
    [=](get_atom, const std::string& key, const request_options&) {
      auto name = opts.key_prefix + key;
      return self->delegate(owner(name), get_atom::value, std::move(name));
    },
    [=](put_atom, const std::string& key, cache_value& value,
        const set_options& options) {
      auto name = opts.key_prefix + key;
      auto ttl = options.ttl.count() > 0 ? options.ttl : opts.default_ttl;
      return self->delegate(owner(name), put_atom::value, std::move(name),
                            std::move(value.data), ttl);
    },
  };
}

} // namespace

caf::expected<bare_actor> spawn_bare(caf::actor_system& sys,
                                     const bare_options& opts) {
  std::vector<connection_handle> connections;
  for (uint32_t i = 0; i < std::max(opts.connections, 1u); ++i) {
    auto conn = sys.middleman().spawn_client(connection, opts.host, opts.port,
                                             opts.codec);
    if (!conn) {
      for (auto& c : connections)
        caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
      return std::move(conn.error());
    }
    connections.push_back(std::move(*conn));
  }
  return sys.spawn(front, std::move(connections), opts);
}

void stop_bare(const bare_actor& front) {
  caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
}

} // namespace cafcache
