#pragma once

#include <string>

#include <caf/actor_system_config.hpp>

namespace cafcache {

/// TLS between nodes goes through CAF's OpenSSL module and its `openssl.*`
/// keys (certificate, key, passphrase, cafile, capath). It is on as soon as
/// one of them is set, for the node and the cli alike; both sides then show
/// a certificate and check the other's against their CA (mutual TLS).
bool tls_enabled(const caf::actor_system_config& cfg);

/// Loads certificate, key and CA the way CAF's OpenSSL module does for every
/// connection, so that a missing file or a key that does not match its
/// certificate is reported at start instead of on the first connection.
/// Returns an empty string when TLS is usable, otherwise a sentence naming
/// the key at fault.
std::string check_tls(const caf::actor_system_config& cfg);

} // namespace cafcache
