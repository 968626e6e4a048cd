#include "tools/tls_setup.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace cafcache {

namespace {

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

int copy_passphrase(char* buf, int size, int, void* user_data) {
  auto passphrase = static_cast<const std::string*>(user_data);
  auto n = std::min(passphrase->size(), static_cast<size_t>(size - 1));
  std::memcpy(buf, passphrase->data(), n);
  buf[n] = '\0';
  return static_cast<int>(n);
}

/// The reason of the oldest queued OpenSSL error; clears the queue.
std::string ssl_reason() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

} // namespace

bool tls_enabled(const caf::actor_system_config& cfg) {
  return !cfg.openssl_certificate.empty() || !cfg.openssl_key.empty()
         || !cfg.openssl_passphrase.empty() || !cfg.openssl_cafile.empty()
         || !cfg.openssl_capath.empty();
}

std::string check_tls(const caf::actor_system_config& cfg) {
  if (cfg.openssl_certificate.empty() || cfg.openssl_key.empty())
    return "TLS needs both openssl.certificate and openssl.key";
  if (cfg.openssl_cafile.empty() && cfg.openssl_capath.empty())
    return "TLS needs openssl.cafile or openssl.capath: the CA that signed "
           "the other side's certificate";
  ssl_ctx_ptr ctx{SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx)
    return "cannot create an OpenSSL context: " + ssl_reason();
  SSL_CTX_set_default_passwd_cb(ctx.get(), copy_passphrase);
  SSL_CTX_set_default_passwd_cb_userdata(
    ctx.get(), const_cast<std::string*>(&cfg.openssl_passphrase));
  if (SSL_CTX_use_certificate_chain_file(ctx.get(),
                                         cfg.openssl_certificate.c_str())
      != 1)
    return "cannot load openssl.certificate " + cfg.openssl_certificate + ": "
           + ssl_reason();
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.openssl_key.c_str(),
                                  SSL_FILETYPE_PEM)
      != 1)
    return "cannot load openssl.key " + cfg.openssl_key + ": " + ssl_reason();
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return "openssl.key does not belong to openssl.certificate";
  auto cafile = cfg.openssl_cafile.empty() ? nullptr
                                           : cfg.openssl_cafile.c_str();
  auto capath = cfg.openssl_capath.empty() ? nullptr
                                           : cfg.openssl_capath.c_str();
  if (SSL_CTX_load_verify_locations(ctx.get(), cafile, capath) != 1)
    return "cannot load the CA of openssl.cafile / openssl.capath: "
           + ssl_reason();
  return {};
}

} // namespace cafcache
