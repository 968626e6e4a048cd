#pragma once

#include <caf/atom.hpp>

/// Atoms of cafcache's messages. CAF 0.17 already defines `get_atom`,
/// `put_atom` (set) and `delete_atom` (invalidate); the cache interface uses
/// those so that it reads like any other CAF key-value interface.
namespace cafcache {

using caf::delete_atom;
using caf::get_atom;
using caf::put_atom;

/// Asks for the health report.
using health_atom = caf::atom_constant<caf::atom("health")>;

/// Asks for the counters.
using stats_atom = caf::atom_constant<caf::atom("stats")>;

/// get_or_load from the cache; load from a user's loader actor.
using load_atom = caf::atom_constant<caf::atom("load")>;

/// invalidate_tag: with `delete_atom`, removes every key carrying a tag.
using tag_atom = caf::atom_constant<caf::atom("tag")>;

/// Waits until the first connection attempt to Redis has an outcome.
using ready_atom = caf::atom_constant<caf::atom("ready")>;

/// Carries one Redis command to a connection actor.
using cmd_atom = caf::atom_constant<caf::atom("cmd")>;

/// Breaker -> cache: the route changed.
using route_atom = caf::atom_constant<caf::atom("route")>;

/// Cache -> breaker: outcomes of regular calls to Redis, batched.
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;

/// Cache -> itself: the failures of a reporting window go to the breaker.
using report_atom = caf::atom_constant<caf::atom("report")>;

/// Cache -> breaker: outcome of the half-open probe.
using probe_atom = caf::atom_constant<caf::atom("probe")>;

/// Supervisor -> cache / breaker: a connection slot went up or down.
using conn_atom = caf::atom_constant<caf::atom("conn")>;

/// Connection -> supervisor: the handshake succeeded or failed.
using hello_atom = caf::atom_constant<caf::atom("hello")>;

/// Timer messages an actor sends to itself.
using tick_atom = caf::atom_constant<caf::atom("tick")>;

/// Cache -> itself: expire the deadlines that passed.
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;

/// Cache -> fallback: take a batch of dirty keys out of the log.
using drain_atom = caf::atom_constant<caf::atom("drain")>;

/// Cache -> fallback: put keys back into the dirty log after a failed replay.
using dirty_atom = caf::atom_constant<caf::atom("dirty")>;

/// Connection -> cache: a message published on a subscribed channel.
using push_atom = caf::atom_constant<caf::atom("push")>;

/// Cache -> fallback: drop every entry (the dirty-key log stays).
using clear_atom = caf::atom_constant<caf::atom("clear")>;

/// Supervisor -> itself: start the next connection attempt.
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
/// Connection to supervisor: my socket is gone (I linger until released).
using lost_atom = caf::atom_constant<caf::atom("lost")>;
/// Connection -> cache: the delegated requests it finished, in a batch.
using served_atom = caf::atom_constant<caf::atom("served")>;

/// Cache -> connection: a delegated write (`write_job`); connection -> cache:
/// a delegated write handed back.
using write_atom = caf::atom_constant<caf::atom("write")>;

/// Cache to a lost connection: nothing more will be sent to you; quit.
using release_atom = caf::atom_constant<caf::atom("release")>;

} // namespace cafcache
