#include "signet/server/tls_context_source.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <exception>
#include <utility>

#include "signet/log/json_log.h"

namespace signet::server {
namespace {

namespace ssl = boost::asio::ssl;

constexpr auto kCheckInterval = std::chrono::seconds(1);
constexpr char kSessionIdContext[] = "signet-server";
// Forward-secret AEAD suites for TLS 1.2; TLS 1.3 suites keep OpenSSL's defaults.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Drains OpenSSL's error queue into one message.
std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Error TlsError(const std::string& what) {
  return Error(ErrorCode::kCrypto, what + ": " + OpenSslErrors());
}

// Never prompt for a key password on the terminal: encrypted keys fail to load.
int RefusePassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

Status ConfigureClientAuth(SSL_CTX* ctx, const TlsSettings& settings) {
  if (SSL_CTX_load_verify_locations(ctx, settings.client_ca_file.c_str(), nullptr) != 1) {
    return TlsError("loading client CA file " + settings.client_ca_file);
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca_file.c_str());
  if (names == nullptr) return TlsError("reading CA names from " + settings.client_ca_file);
  SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_verify_depth(ctx, 4);
  // A server verifying a client checks the "SSL client" purpose, so a leaf with
  // an extendedKeyUsage that lacks clientAuth is refused by the chain check.
  if (!settings.client_sans.empty()) {
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(
        param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    for (std::size_t i = 0; i < settings.client_sans.size(); ++i) {
      const std::string& san = settings.client_sans[i];
      const int rc = i == 0 ? X509_VERIFY_PARAM_set1_host(param, san.c_str(), san.size())
                            : X509_VERIFY_PARAM_add1_host(param, san.c_str(), san.size());
      if (rc != 1) return TlsError("setting client SAN pin '" + san + "'");
    }
  }
  return OkStatus();
}

Result<std::shared_ptr<ssl::context>> BuildContext(const TlsSettings& settings) {
  std::shared_ptr<ssl::context> context;
  try {
    context = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kCrypto, std::string("creating TLS context: ") + e.what());
  }
  SSL_CTX* ctx = context->native_handle();
  ERR_clear_error();
  const int min_version = settings.min_version == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) {
    return TlsError("setting the minimum TLS version");
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return TlsError("setting TLS 1.2 ciphers");
  SSL_CTX_set_default_passwd_cb(ctx, RefusePassword);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(kSessionIdContext),
                                 sizeof(kSessionIdContext) - 1);
  if (SSL_CTX_use_certificate_chain_file(ctx, settings.cert_file.c_str()) != 1) {
    return TlsError("loading certificate chain " + settings.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, settings.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return TlsError("loading private key " + settings.key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return TlsError("private key " + settings.key_file + " does not match certificate " +
                    settings.cert_file);
  }
  if (!settings.client_ca_file.empty()) {
    if (Status status = ConfigureClientAuth(ctx, settings); !status.ok()) return status.error();
  }
  return context;
}

}  // namespace

TlsContextSource::TlsContextSource(TlsSettings settings) : settings_(std::move(settings)) {}

Result<std::unique_ptr<TlsContextSource>> TlsContextSource::Create(TlsSettings settings) {
  if (settings.min_version != "1.3" && settings.min_version != "1.2") {
    return Error(
        ErrorCode::kInvalidArgument,
        "TLS minimum version must be \"1.3\" or \"1.2\", got \"" + settings.min_version + "\"");
  }
  if (settings.cert_file.empty() || settings.key_file.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "TLS needs both a certificate file and a key file (or plain HTTP explicitly)");
  }
  std::unique_ptr<TlsContextSource> source(new TlsContextSource(std::move(settings)));
  source->loaded_stamps_ = source->ReadStamps();
  Result<std::shared_ptr<ssl::context>> context = BuildContext(source->settings_);
  if (!context.ok()) return context.error();
  source->current_ = std::move(context).value();
  source->last_check_ = std::chrono::steady_clock::now();
  return source;
}

TlsContextSource::Stamps TlsContextSource::ReadStamps() const {
  Stamps stamps;
  for (const std::string* path :
       {&settings_.cert_file, &settings_.key_file, &settings_.client_ca_file}) {
    FileStamp stamp;
    struct stat info {};
    if (!path->empty() && ::stat(path->c_str(), &info) == 0) {
      stamp.exists = true;
      stamp.device = static_cast<unsigned long long>(info.st_dev);
      stamp.inode = static_cast<unsigned long long>(info.st_ino);
      stamp.size = static_cast<unsigned long long>(info.st_size);
      stamp.mtime_ns = static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL +
                       static_cast<long long>(info.st_mtim.tv_nsec);
    }
    stamps.push_back(stamp);
  }
  return stamps;
}

void TlsContextSource::ReloadIfChanged() {
  const Stamps stamps = ReadStamps();
  if (stamps == loaded_stamps_ || stamps == failed_stamps_) return;
  Result<std::shared_ptr<ssl::context>> context = BuildContext(settings_);
  if (!context.ok()) {
    failed_stamps_ = stamps;
    // The previous credentials stay in use.
    log::LogEvent(spdlog::level::err,
                  {{"event", "tls_reload_failed"}, {"error", context.error().message()}});
    return;
  }
  current_ = std::move(context).value();
  loaded_stamps_ = stamps;
  failed_stamps_.clear();
  log::LogEvent(
      spdlog::level::info,
      {{"event", "tls_credentials_reloaded"},
       {"cert_file", settings_.cert_file},
       {"key_file", settings_.key_file},
       {"client_ca_file", settings_.client_ca_file.empty() ? "none" : settings_.client_ca_file}});
}

std::shared_ptr<ssl::context> TlsContextSource::Current() {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ >= kCheckInterval) {
    last_check_ = now;
    ReloadIfChanged();
  }
  return current_;
}

}  // namespace signet::server
