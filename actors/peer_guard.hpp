#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

namespace cafcache {

/// What the peer guard enforces on every connection it accepts.
struct peer_guard_settings {
  /// Address and port the guard listens on (0 = any free port).
  std::string bind;
  uint16_t port = 0;
  /// Loopback port of the node's own CAF middleman, where accepted
  /// connections are relayed.
  uint16_t upstream_port = 0;
  /// Largest BASP payload a peer may announce after its handshake.
  uint32_t max_message_bytes = 0;
  /// Largest payload of a peer's first frame (its handshake).
  uint32_t max_handshake_bytes = 64 * 1024;
  /// Connections open at the same time; more are closed when accepted.
  uint32_t max_peers = 0;
  /// Threshold of the guard's log lines ("info", "warn", ...).
  std::string log_level = "info";
  /// The actor behind the relay: when it terminates, the guard takes no new
  /// connections, relays what the node still sends (its last answers), and
  /// terminates once every peer has it and closed its connection, at the
  /// latest after `drain_timeout`.
  caf::actor serves;
  /// How long the relays may drain once `serves` terminated; a peer that has
  /// not read its last bytes by then is disconnected (`drain-timeout`).
  caf::timespan drain_timeout{0};
};

/// A guard with its listening port.
struct peer_guard {
  caf::actor handle;
  uint16_t port = 0;
};

/// Spawns a broker that listens on `bind:port`, relays each connection byte
/// for byte to `127.0.0.1:upstream_port`, and closes a connection whose peer
/// announces a BASP frame beyond the limits (runtime/basp_frames) or does not
/// read what the node sends (more than two messages' worth queued). Bounds
/// what peers can make the node allocate for frames to
/// `max_peers * max_message_bytes`. When the node closes its side of a
/// relay, the guard sends the peer the rest, then ends its own side and
/// waits for the peer to close. Once `settings.serves` terminated, the guard
/// terminates when every relay is closed, at the latest after
/// `settings.drain_timeout`.
/// Returns an error when the port cannot be opened.
caf::expected<peer_guard> spawn_peer_guard(caf::actor_system& sys,
                                           peer_guard_settings settings);

/// Closes the guard's listening port and returns once it is closed. Peers
/// already connected keep their relay until `settings.serves` terminated and
/// they have its last answers.
void stop_listening(caf::actor_system& sys, const caf::actor& guard);

/// Waits until `guard` terminated. Returns false when `limit` passed first.
bool await_drained(caf::actor_system& sys, const caf::actor& guard,
                   caf::timespan limit);

} // namespace cafcache
