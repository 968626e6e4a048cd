#include "actors/peer_guard.hpp"

#include <memory>
#include <string>
#include <unordered_map>

#include <caf/atom.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "messages/errc.hpp"
#include "runtime/basp_frames.hpp"
#include "runtime/log.hpp"

namespace cafcache {

namespace {

using listen_atom = caf::atom_constant<caf::atom("listen")>;
using unlisten_atom = caf::atom_constant<caf::atom("unlisten")>;

constexpr size_t read_chunk = 64 * 1024;

/// One side of a relayed connection.
struct link {
  /// The other side.
  caf::io::connection_handle other;
  /// Set on the peer's side only: the frames the peer sends.
  std::unique_ptr<basp_frames> frames;
};

struct guard_state {
  peer_guard_settings settings;
  logger log;
  std::unordered_map<caf::io::connection_handle, link> links;
  size_t peers = 0;
  caf::io::accept_handle acceptor;
  static inline const char* name = "cafcache.peer_guard";
};

using guard_actor = caf::io::stateful_broker<guard_state>;

void drop(guard_actor* self, caf::io::connection_handle hdl) {
  auto i = self->state.links.find(hdl);
  if (i == self->state.links.end())
    return;
  auto other = i->second.other;
  --self->state.peers;
  self->state.links.erase(i);
  self->state.links.erase(other);
  self->close(hdl);
  self->close(other);
}

void refuse(guard_actor* self, caf::io::connection_handle peer,
            std::string_view reason, std::string_view detail) {
  auto addr = self->remote_addr(peer);
  self->state.log.write(log_level::warn, "peer_refused",
                        {{"peer", addr}, {"reason", reason},
                         {"detail", detail}});
}

caf::behavior guard(guard_actor* self, peer_guard_settings settings) {
  log_level level = log_level::info;
  parse_log_level(settings.log_level, level);
  self->state.log = logger{level};
  if (settings.serves)
    self->monitor(settings.serves);
  self->state.settings = std::move(settings);
  self->set_down_handler([=](const caf::down_msg&) {
    self->close_all();
    self->quit();
  });
  return {
    [=](listen_atom) -> caf::result<uint16_t> {
      auto& s = self->state.settings;
      auto res = self->add_tcp_doorman(s.port, s.bind.c_str(), true);
      if (!res)
        return res.error();
      self->state.acceptor = res->first;
      return res->second;
    },
    [=](unlisten_atom) { self->close(self->state.acceptor); },
    [=](const caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      if (st.peers >= st.settings.max_peers) {
        refuse(self, msg.handle, "too_many_peers",
               std::to_string(st.settings.max_peers) + " connected");
        self->close(msg.handle);
        return;
      }
      auto up = self->add_tcp_scribe("127.0.0.1", st.settings.upstream_port);
      if (!up) {
        refuse(self, msg.handle, "node_unreachable", self->system().render(up.error()));
        self->close(msg.handle);
        return;
      }
      st.links[msg.handle] = link{*up, std::make_unique<basp_frames>(
                                         st.settings.max_handshake_bytes,
                                         st.settings.max_message_bytes)};
      st.links[*up] = link{msg.handle, nullptr};
      ++st.peers;
      self->configure_read(msg.handle,
                           caf::io::receive_policy::at_most(read_chunk));
      self->configure_read(*up, caf::io::receive_policy::at_most(read_chunk));
    },
    [=](caf::io::new_data_msg& msg) {
      auto& st = self->state;
      auto i = st.links.find(msg.handle);
      if (i == st.links.end())
        return;
      auto other = i->second.other;
      if (auto* frames = i->second.frames.get()) {
        auto data = reinterpret_cast<const std::byte*>(msg.buf.data());
        if (!frames->feed(data, msg.buf.size())) {
          auto limit = frames->frames() == 1 ? st.settings.max_handshake_bytes
                                             : st.settings.max_message_bytes;
          refuse(self, msg.handle, "message_too_large",
                 std::to_string(frames->refused_length()) + " bytes announced, "
                   + std::to_string(limit) + " allowed");
          drop(self, msg.handle);
          return;
        }
        self->write(other, msg.buf.size(), msg.buf.data());
        self->flush(other);
        return;
      }
      // From the node to the peer: a peer that stops reading would make the
      // guard buffer without bound.
      self->write(other, msg.buf.size(), msg.buf.data());
      self->flush(other);
      if (self->wr_buf(other).size() > 2 * size_t{st.settings.max_message_bytes}) {
        refuse(self, other, "not_reading",
               std::to_string(self->wr_buf(other).size()) + " bytes queued");
        drop(self, other);
      }
    },
    [=](const caf::io::connection_closed_msg& msg) { drop(self, msg.handle); },
    [=](const caf::io::acceptor_closed_msg&) {
      // Only new peers are affected; connected ones keep their relay.
    },
  };
}

} // namespace

caf::expected<peer_guard> spawn_peer_guard(caf::actor_system& sys,
                                           peer_guard_settings settings) {
  if (settings.max_message_bytes == 0 || settings.max_peers == 0)
    return make_error(errc::bad_config,
                      "the peer guard needs max-message-bytes and max-peers");
  auto hdl = sys.middleman().spawn_broker(guard, std::move(settings));
  caf::scoped_actor self{sys};
  caf::expected<peer_guard> result{caf::error{}};
  self->request(hdl, std::chrono::seconds(10), listen_atom::value)
    .receive([&](uint16_t port) { result = peer_guard{hdl, port}; },
             [&](caf::error& err) {
               caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
               result = std::move(err);
             });
  return result;
}

} // namespace cafcache

namespace cafcache {

void stop_listening(caf::actor_system& sys, const caf::actor& guard) {
  caf::scoped_actor self{sys};
  self->request(guard, std::chrono::seconds(5), unlisten_atom::value)
    .receive([] {}, [](const caf::error&) {});
}

} // namespace cafcache
