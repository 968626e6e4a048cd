#include "actors/peer_guard.hpp"

#include <sys/socket.h>

#include <memory>
#include <string>
#include <unordered_map>

#include <caf/atom.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/scoped_actor.hpp>
#include <fmt/format.h>

#include "messages/errc.hpp"
#include "runtime/basp_frames.hpp"
#include "runtime/log.hpp"

namespace cafcache {

namespace {

using listen_atom = caf::atom_constant<caf::atom("listen")>;
using unlisten_atom = caf::atom_constant<caf::atom("unlisten")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;

constexpr size_t read_chunk = 64 * 1024;

/// One side of a relayed connection.
struct link {
  /// The other side; none on a peer's side once the node closed its side.
  caf::io::connection_handle other;
  /// Set on the peer's side only: the frames the peer sends.
  std::unique_ptr<basp_frames> frames;
  /// Peer's side only: bytes written to the peer that are not in its socket
  /// yet (CAF reports each write through `data_transferred_msg`).
  uint64_t unsent = 0;
};

struct guard_state {
  peer_guard_settings settings;
  logger log;
  std::unordered_map<caf::io::connection_handle, link> links;
  size_t peers = 0;
  caf::io::accept_handle acceptor;
  /// Set once `settings.serves` terminated: the guard quits when the last
  /// relay is closed, or at the drain deadline.
  bool draining = false;
  static inline const char* name = "cafcache.peer_guard";
};

using guard_actor = caf::io::stateful_broker<guard_state>;

bool is_peer(const link& x) {
  return x.frames != nullptr;
}

/// Whether a connection handle names its socket, as with CAF's default
/// multiplexer (`caf::io::network::conn_hdl_from_socket`): only then can the
/// guard shut a socket down in ways CAF's close does not.
bool names_sockets(guard_actor* self) {
  return dynamic_cast<caf::io::network::default_multiplexer*>(&self->backend())
         != nullptr;
}

/// Closes `peer` at once, dropping what it still has to send. CAF's close
/// sends the buffer first, and the multiplexer, hence the node's exit, waits
/// for that: a peer that stopped reading would hold both forever.
void disconnect_now(guard_actor* self, caf::io::connection_handle peer) {
  if (!self->valid(peer))
    return;
  if (names_sockets(self))
    ::shutdown(static_cast<int>(peer.id()), SHUT_RDWR);
  self->close(peer);
}

/// Forgets `peer`'s relay. A peer that still has bytes to get is aborted.
void forget(guard_actor* self, caf::io::connection_handle peer) {
  auto i = self->state.links.find(peer);
  if (i == self->state.links.end())
    return;
  auto node_side = i->second.other;
  auto unsent = i->second.unsent;
  --self->state.peers;
  self->state.links.erase(i);
  if (node_side != caf::io::invalid_connection_handle) {
    self->state.links.erase(node_side);
    self->close(node_side);
  }
  if (unsent > 0)
    disconnect_now(self, peer);
  else
    self->close(peer);
  if (self->state.draining && self->state.links.empty())
    self->quit();
}

/// Closes the relay of `hdl`, either side.
void drop(guard_actor* self, caf::io::connection_handle hdl) {
  auto i = self->state.links.find(hdl);
  if (i == self->state.links.end())
    return;
  forget(self, is_peer(i->second) ? hdl : i->second.other);
}

/// The peer has every byte the node sent, and the node closed its side. The
/// guard ends its own side (FIN) but reads on, and drops the relay when the
/// peer closes too or at the drain deadline. Closing the socket at once
/// would answer what the peer still sends (CAF's down messages for its
/// actors that just got their answers) with a reset, and a reset makes the
/// peer's kernel discard what the peer has not read yet: the last answers.
void finish(guard_actor* self, caf::io::connection_handle peer) {
  if (names_sockets(self))
    ::shutdown(static_cast<int>(peer.id()), SHUT_WR);
  else
    forget(self, peer);
}

/// The node closed its side of a relay, after everything it sent: the peer
/// keeps its relay until it has every byte of that.
void on_node_closed(guard_actor* self, caf::io::connection_handle node_side) {
  auto i = self->state.links.find(node_side);
  if (i == self->state.links.end())
    return;
  auto peer = i->second.other;
  self->state.links.erase(i);
  auto& peer_link = self->state.links.at(peer);
  peer_link.other = caf::io::invalid_connection_handle;
  if (peer_link.unsent == 0)
    finish(self, peer);
}

void on_transferred(guard_actor* self,
                    const caf::io::data_transferred_msg& msg) {
  auto i = self->state.links.find(msg.handle);
  if (i == self->state.links.end() || !is_peer(i->second))
    return;
  auto& peer = i->second;
  if (peer.unsent == 0)
    return;
  peer.unsent -= std::min(peer.unsent, msg.written);
  if (peer.unsent == 0 && peer.other == caf::io::invalid_connection_handle)
    finish(self, msg.handle);
}

/// `settings.serves` terminated: its last answers are still on their way
/// through the middleman, so relays stay open until the node closes them
/// (`drain_peers` in runtime/publish) or the deadline passes.
void start_drain(guard_actor* self) {
  auto& st = self->state;
  st.draining = true;
  self->close(st.acceptor);
  if (st.links.empty()) {
    self->quit();
    return;
  }
  self->delayed_send(self, st.settings.drain_timeout, deadline_atom::value);
}

void on_deadline(guard_actor* self) {
  auto& st = self->state;
  size_t stuck = 0;
  uint64_t dropped = 0;
  for (auto& [hdl, x] : st.links) {
    if (is_peer(x) && x.unsent > 0) {
      ++stuck;
      dropped += x.unsent;
    }
  }
  if (stuck > 0)
    st.log.write(log_level::warn, "drain_timeout",
                 {{"peers", std::to_string(stuck)},
                  {"bytes_dropped", std::to_string(dropped)}});
  // The last drop quits the guard.
  while (!st.links.empty())
    drop(self, st.links.begin()->first);
}

void refuse(guard_actor* self, caf::io::connection_handle peer,
            std::string_view reason, std::string_view detail) {
  auto addr = self->remote_addr(peer);
  self->state.log.write(log_level::warn, "peer_refused",
                        {{"peer", addr}, {"reason", reason},
                         {"detail", detail}});
}

caf::behavior guard(guard_actor* self, peer_guard_settings settings) {
  self->state.log = logger::named(settings.log_level);
  if (settings.serves)
    self->monitor(settings.serves);
  self->state.settings = std::move(settings);
  self->set_down_handler([=](const caf::down_msg&) { start_drain(self); });
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
    [=](deadline_atom) { on_deadline(self); },
    [=](const caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      if (st.draining) {
        self->close(msg.handle);
        return;
      }
      if (st.peers >= st.settings.max_peers) {
        refuse(self, msg.handle, "too_many_peers",
               fmt::format("{} connected", st.settings.max_peers));
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
      self->ack_writes(msg.handle, true);
      self->configure_read(*up, caf::io::receive_policy::at_most(read_chunk));
    },
    [=](caf::io::new_data_msg& msg) {
      auto& st = self->state;
      auto i = st.links.find(msg.handle);
      if (i == st.links.end())
        return;
      auto other = i->second.other;
      if (auto* frames = i->second.frames.get()) {
        if (other == caf::io::invalid_connection_handle)
          return; // The node closed its side: read only to be discarded.
        auto data = reinterpret_cast<const std::byte*>(msg.buf.data());
        if (!frames->feed(data, msg.buf.size())) {
          auto limit = frames->frames() == 1 ? st.settings.max_handshake_bytes
                                             : st.settings.max_message_bytes;
          refuse(self, msg.handle, "message_too_large",
                 fmt::format("{} bytes announced, {} allowed",
                             frames->refused_length(), limit));
          drop(self, msg.handle);
          return;
        }
        self->write(other, msg.buf.size(), msg.buf.data());
        self->flush(other);
        return;
      }
      // From the node to the peer: a peer that stops reading would make the
      // guard buffer without bound.
      st.links.at(other).unsent += msg.buf.size();
      self->write(other, msg.buf.size(), msg.buf.data());
      self->flush(other);
      if (self->wr_buf(other).size() > 2 * size_t{st.settings.max_message_bytes}) {
        refuse(self, other, "not_reading",
               fmt::format("{} bytes queued", self->wr_buf(other).size()));
        drop(self, other);
      }
    },
    [=](const caf::io::data_transferred_msg& msg) {
      on_transferred(self, msg);
    },
    [=](const caf::io::connection_closed_msg& msg) {
      auto i = self->state.links.find(msg.handle);
      if (i == self->state.links.end())
        return;
      if (!is_peer(i->second)) {
        on_node_closed(self, msg.handle);
        return;
      }
      i->second.unsent = 0; // Gone: nothing reaches it any more.
      drop(self, msg.handle);
    },
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

bool await_drained(caf::actor_system& sys, const caf::actor& guard,
                   caf::timespan limit) {
  caf::scoped_actor self{sys};
  self->monitor(guard);
  bool done = false;
  self->receive([&](const caf::down_msg&) { done = true; },
                caf::after(limit) >> [] {});
  return done;
}

} // namespace cafcache
