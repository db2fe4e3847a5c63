// signet serve: flag parsing for the Gatekeeper External Data provider. The
// configuration file is read first; flags given on the command line override
// it. All the work is done by signet::provider::Provider.
#include <malloc.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "signet/cli/command.h"
#include "signet/log/batched_fd_sink.h"
#include "signet/log/json_log.h"
#include "signet/policy/config.h"
#include "signet/provider/provider.h"

namespace signet::cli {
namespace {

struct ServeFlags {
  std::string config_file;
  int port = 0;
  std::string address;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client_ca_file;
  std::vector<std::string> client_sans;
  std::string tls_min_version;
  bool insecure_http = false;
  std::vector<std::string> keys;
  std::string deadline;
  std::string mutate_deadline;
  std::string refresh_ahead;
  std::string last_known_good_grace;
  std::string redis_address;
  std::string signature_formats;
  int workers = 0;
  std::string registry_secret_dir;
  std::vector<std::string> registry_secret_hosts;
  bool dangerously_send_credentials_to_any_registry = false;
  std::string docker_config;
  std::string registry_cacert;
  bool allow_insecure_registry = false;
  int registry_max_concurrent_requests = 0;
  double registry_requests_per_second = 0;
  double registry_burst = 0;
  std::uint64_t max_body_bytes = 0;
  std::size_t max_keys = 0;
  std::size_t max_connections_per_peer = 0;
  std::string handshake_timeout;
  std::string health_address;
  std::string log_level = "info";

  CLI::App* command = nullptr;
  bool Given(const std::string& flag) const { return command->count(flag) > 0; }
};

// The configuration key each value flag sets, as ValidateConfig's messages
// begin: a refused value is reported with the flag in front
// ("--workers: verification.workers: must be between 1 and 1024"), and with
// the same message as the key in the file.
struct FlagKey {
  const char* flag;
  const char* key;
};
constexpr FlagKey kFlagKeys[] = {
    {"--port", "server.port:"},
    {"--tls-min-version", "server.tlsMinVersion:"},
    {"--max-body-bytes", "server.maxBodyBytes:"},
    {"--max-keys", "server.maxKeys:"},
    {"--max-connections-per-peer", "server.maxConnectionsPerPeer:"},
    {"--handshake-timeout", "server.handshakeTimeout:"},
    {"--health-addr", "server.healthAddress:"},
    {"--client-ca-file", "server.clientCAFile:"},
    {"--client-san", "server.clientSANs:"},
    {"--deadline", "verification.deadline:"},
    {"--mutate-deadline", "verification.mutateDeadline:"},
    {"--workers", "verification.workers:"},
    {"--refresh-ahead", "verification.refreshAhead:"},
    {"--last-known-good-grace", "verification.lastKnownGoodGrace:"},
    {"--redis-address", "cache.redis.address:"},
    {"--registry-max-concurrent-requests", "registryLimits: maxConcurrentRequests"},
    {"--registry-requests-per-second", "registryLimits: requestsPerSecond"},
    {"--registry-burst", "registryLimits: burst"},
};

// The one check of the configuration serve runs with: the file's (as the
// YAML reader read it) with the flags applied. An error about a key a flag
// set names that flag, and one that the file (`file`, null without
// --config) has without the flags names the file, as ParseConfig does: the
// file alone is checked for that (with every check, else with those a flag
// cannot satisfy, ConfigCheck::kBeforeFlags) only after the check failed.
Result<policy::ValidConfig> CheckWithFlags(const ServeFlags& f, policy::Config config,
                                           const policy::Config* file) {
  auto valid = policy::CheckConfig(std::move(config));
  if (valid.ok()) return valid;
  const std::string& message = valid.error().message();
  for (const FlagKey& entry : kFlagKeys) {
    if (f.Given(entry.flag) && message.rfind(entry.key, 0) == 0) {
      return valid.error().WithContext(entry.flag);
    }
  }
  if (file != nullptr) {
    for (const auto check : {policy::ConfigCheck::kComplete, policy::ConfigCheck::kBeforeFlags}) {
      const Status alone = policy::ValidateConfig(*file, check);
      if (!alone.ok() && alone.error().message() == message) {
        return valid.error().WithContext(f.config_file);
      }
    }
  }
  return valid;
}

// Applies the flags given to `config` (the file's, when `file` is not null,
// else the defaults) and checks the result, once.
Result<policy::ValidConfig> ApplyFlags(const ServeFlags& f, policy::Config config,
                                       const policy::Config* file) {
  policy::ServerConfig& s = config.server;
  if (f.Given("--port")) s.port = f.port;
  if (f.Given("--address")) s.address = f.address;
  if (f.Given("--tls-cert-file")) s.tls_cert_file = f.tls_cert_file;
  if (f.Given("--tls-key-file")) s.tls_key_file = f.tls_key_file;
  if (f.Given("--client-ca-file")) s.client_ca_file = f.client_ca_file;
  if (f.Given("--client-san")) s.client_sans = f.client_sans;
  if (f.Given("--tls-min-version")) s.tls_min_version = f.tls_min_version;
  if (f.Given("--insecure-http")) s.insecure_http = f.insecure_http;
  if (f.Given("--max-body-bytes")) s.max_body_bytes = f.max_body_bytes;
  if (f.Given("--max-keys")) s.max_keys = f.max_keys;
  if (f.Given("--max-connections-per-peer")) {
    s.max_connections_per_peer = f.max_connections_per_peer;
  }
  if (f.Given("--health-addr")) s.health_address = f.health_address;
  if (f.Given("--handshake-timeout")) {
    auto timeout = policy::ParseDuration(f.handshake_timeout);
    if (!timeout.ok()) return timeout.error().WithContext("--handshake-timeout");
    s.handshake_timeout = *timeout;
  }
  if (f.Given("--key")) {
    // Replaces the configured keys; policies then use every key.
    config.keys.clear();
    for (std::size_t i = 0; i < f.keys.size(); ++i) {
      config.keys.push_back({i == 0 ? "default" : "key" + std::to_string(i + 1), f.keys[i]});
    }
    for (auto& policy : config.policies) policy.keys.clear();
  }
  if (f.Given("--deadline")) {
    auto deadline = policy::ParseDuration(f.deadline);
    if (!deadline.ok()) return deadline.error().WithContext("--deadline");
    config.verification.deadline = *deadline;
  }
  if (f.Given("--mutate-deadline")) {
    auto deadline = policy::ParseDuration(f.mutate_deadline);
    if (!deadline.ok()) return deadline.error().WithContext("--mutate-deadline");
    config.verification.mutate_deadline = *deadline;
  }
  if (f.Given("--refresh-ahead")) {
    auto window = policy::ParseDuration(f.refresh_ahead);
    if (!window.ok()) return window.error().WithContext("--refresh-ahead");
    config.verification.refresh_ahead = *window;
  }
  if (f.Given("--last-known-good-grace")) {
    auto grace = policy::ParseDuration(f.last_known_good_grace);
    if (!grace.ok()) return grace.error().WithContext("--last-known-good-grace");
    config.verification.last_known_good_grace = *grace;
  }
  if (f.Given("--redis-address")) config.cache.redis.address = f.redis_address;
  if (f.Given("--signature-formats")) {
    auto formats = policy::ParseSignatureFormats(f.signature_formats);
    if (!formats.ok()) return formats.error().WithContext("--signature-formats");
    config.verification.signature_formats = *formats;
  }
  if (f.Given("--workers")) config.verification.workers = f.workers;
  policy::RegistryAccessConfig& access = config.registry_access;
  if (f.Given("--dangerously-send-credentials-to-any-registry")) {
    access.dangerously_send_credentials_to_any_registry =
        f.dangerously_send_credentials_to_any_registry;
  }
  if (f.Given("--registry-secret-host") && !f.Given("--registry-secret-dir")) {
    return Error(ErrorCode::kInvalidArgument,
                 "--registry-secret-host: names the registry for --registry-secret-dir, which "
                 "is not given");
  }
  if (f.Given("--registry-secret-dir")) {
    // One entry per named host; none named means host "*", which
    // ValidateConfig refuses without the opt-in.
    std::vector<std::string> hosts = f.registry_secret_hosts;
    if (hosts.empty()) hosts.push_back("*");
    for (const std::string& host : hosts) {
      policy::RegistryConfig secret;
      secret.host = host;
      secret.username_file = f.registry_secret_dir + "/username";
      secret.password_file = f.registry_secret_dir + "/password";
      access.registries.push_back(secret);
    }
  }
  if (f.Given("--docker-config")) access.docker_config_file = f.docker_config;
  if (f.Given("--registry-cacert")) access.ca_file = f.registry_cacert;
  if (f.Given("--allow-insecure-registry")) {
    access.allow_insecure = f.allow_insecure_registry;
  }
  policy::RegistryLimits& limits = access.limits;
  if (f.Given("--registry-max-concurrent-requests")) {
    limits.max_concurrent_requests = f.registry_max_concurrent_requests;
  }
  if (f.Given("--registry-requests-per-second")) {
    limits.requests_per_second = f.registry_requests_per_second;
  }
  if (f.Given("--registry-burst")) limits.burst = f.registry_burst;
  return CheckWithFlags(f, std::move(config), file);
}

constexpr int kServeMallocArenas = 2;

int RunServe(const ServeFlags& flags) {
  // A long-running server: allocations from 128 KiB up (registry response
  // bodies, up to the 4 MiB caps) are mapped and unmapped each time, instead
  // of glibc's default of raising that threshold after the first large free
  // and keeping such blocks in per-thread arenas.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  // At most kServeMallocArenas malloc arenas, not 8 per core: memory freed
  // by one of the ~80 server and worker threads is reused by the others
  // instead of being kept per arena (docs/provider.md, "Memory"). An
  // operator's MALLOC_ARENA_MAX still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, kServeMallocArenas);
  const auto level = spdlog::level::from_str(flags.log_level);
  if (level == spdlog::level::off && flags.log_level != "off") {
    std::cerr << "Error: --log-level: unknown level \"" << flags.log_level
              << "\" (use trace, debug, info, warn, error or off)\n";
    return kExitUsage;
  }
  spdlog::set_level(level);
  log::UseBatchedStdout();
  log::InstallJsonLogFormat();

  // The file as the YAML reader reads it (syntax, keys, types, ranges); the
  // whole configuration is checked once, with the flags applied (so checks
  // between keys that a flag can satisfy, such as hmacKeyFile in the file
  // and the address by --redis-address, see both).
  std::optional<policy::Config> file;
  if (!flags.config_file.empty()) {
    auto read = policy::ReadConfigFile(flags.config_file);
    if (!read.ok()) return ReportError(read.error());
    file = std::move(read).value();
  }
  auto valid = ApplyFlags(flags, file ? *file : policy::DefaultConfig(), file ? &*file : nullptr);
  if (!valid.ok()) return ReportError(valid.error());
  const policy::Config& config = valid->config();
  if (!config.server.insecure_http &&
      (config.server.tls_cert_file.empty() || config.server.tls_key_file.empty())) {
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "serving needs TLS: pass --tls-cert-file and --tls-key-file (or "
                             "server.tlsCertFile/tlsKeyFile in the config), or --insecure-http "
                             "for local development"));
  }

  auto created = provider::Provider::Create(*valid);
  if (!created.ok()) return ReportError(created.error());
  std::unique_ptr<provider::Provider> server = std::move(created).value();
  if (auto status = server->Start(); !status.ok()) return ReportError(status.error());

  nlohmann::json keys = nlohmann::json::array();
  for (const auto& key : config.keys) keys.push_back({{"name", key.name}, {"path", key.path}});
  log::LogEvent(
      spdlog::level::info,
      {{"event", "provider_started"},
       {"address", config.server.address},
       {"port", server->port()},
       {"health_address", config.server.health_address},
       {"health_port", server->health_port()},
       {"tls", !config.server.insecure_http},
       {"mtls", !config.server.client_ca_file.empty()},
       {"tls_min_version", config.server.tls_min_version},
       {"validate_path", config.server.validate_path},
       {"mutate_path", config.server.mutate_path},
       {"deadline", policy::FormatDuration(config.verification.deadline)},
       {"mutate_deadline", policy::FormatDuration(config.verification.mutate_deadline)},
       {"mutate_exempt_images", config.mutation.exempt_images},
       {"workers", config.verification.workers},
       {"shared_cache", config.cache.redis.address.empty() ? "off" : config.cache.redis.address},
       {"keys", keys},
       {"policies", config.policies.size()}});
  // Requests in flight finish within their deadline; give them that and more.
  const auto drain = std::max<std::chrono::milliseconds>(std::chrono::seconds(5),
                                                         config.verification.deadline * 2);
  server->ShutdownOnSignals(drain, [](int signo) {
    log::LogEvent(spdlog::level::info, {{"event", "provider_stopping"}, {"signal", signo}});
  });
  server->Wait();
  log::LogEvent(spdlog::level::info, {{"event", "provider_stopped"}});
  return kExitOk;
}

}  // namespace

void RegisterServeCommand(CLI::App& app, Action& action) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve the Gatekeeper External Data provider (POST /validate, POST /mutate)");
  flags->command = cmd;
  ServeFlags& f = *flags;
  cmd->add_option("--config", f.config_file, "YAML configuration file (flags override it)");
  cmd->add_option("--port", f.port, "TCP port to listen on (default 8090)");
  cmd->add_option("--address", f.address, "address to listen on (default 0.0.0.0)");
  cmd->add_option("--tls-cert-file", f.tls_cert_file, "PEM certificate chain, leaf first");
  cmd->add_option("--tls-key-file", f.tls_key_file, "PEM private key of the certificate");
  cmd->add_option("--client-ca-file", f.client_ca_file,
                  "require client certificates signed by this CA (mTLS)");
  cmd->add_option("--client-san", f.client_sans,
                  "accept only client certificates with this DNS SAN (repeatable)");
  cmd->add_option("--tls-min-version", f.tls_min_version, "minimum TLS version: 1.3 or 1.2");
  cmd->add_flag("--insecure-http", f.insecure_http,
                "serve plain HTTP (local development only; Gatekeeper requires HTTPS)");
  cmd->add_option("--key", f.keys,
                  "trusted public key file (repeatable; any one suffices; default ./cosign.pub)");
  cmd->add_option("--deadline", f.deadline,
                  "request deadline, below the Provider's timeout, e.g. 1500ms (default 1500ms)");
  cmd->add_option("--mutate-deadline", f.mutate_deadline,
                  "deadline of POST /mutate, below Gatekeeper's mutating webhook timeout (1 s by "
                  "default), e.g. 700ms (default 700ms)");
  cmd->add_option("--refresh-ahead", f.refresh_ahead,
                  "refresh a cached valid result in the background when looked up within this "
                  "of its expiry, e.g. 30s; 0 = off (default: a tenth of the cache TTL)");
  cmd->add_option("--last-known-good-grace", f.last_known_good_grace,
                  "while the registry is unavailable (5xx, 429, timeout, unreachable), answer "
                  "valid for a digest these keys verified within cache TTL + this, e.g. 24h; "
                  "0 = off (default 0)");
  cmd->add_option("--redis-address", f.redis_address,
                  "share verdicts with other replicas through Redis at host:port "
                  "(cache.redis.address; needs cache.redis.hmacKeyFile or hmacKeyEnv in "
                  "--config; default: off)");
  cmd->add_option("--signature-formats", f.signature_formats,
                  "both: Sigstore bundle referrers (cosign v3), else legacy .sig, looked up in "
                  "parallel; legacy: only .sig (default both)");
  cmd->add_option("--workers", f.workers, "verification worker threads, 1 to 1024 (default 16)");
  cmd->add_option("--registry-secret-dir", f.registry_secret_dir,
                  "directory with 'username' and 'password' files for the registries named by "
                  "--registry-secret-host");
  cmd->add_option("--registry-secret-host", f.registry_secret_hosts,
                  "registry host[:port] that receives the --registry-secret-dir credentials "
                  "(repeatable)");
  cmd->add_flag("--dangerously-send-credentials-to-any-registry",
                f.dangerously_send_credentials_to_any_registry,
                "allow --registry-secret-dir without --registry-secret-host (host \"*\"): its "
                "credentials then go to every registry any pod names");
  cmd->add_option("--docker-config", f.docker_config,
                  "dockerconfigjson file (a Kubernetes imagePullSecret) with registry credentials");
  cmd->add_option("--registry-cacert", f.registry_cacert,
                  "PEM file with extra CA certificates for registries");
  cmd->add_flag("--allow-insecure-registry", f.allow_insecure_registry,
                "skip registry TLS verification and allow plain-HTTP registries");
  cmd->add_option("--registry-max-concurrent-requests", f.registry_max_concurrent_requests,
                  "requests to one registry host at a time (default 16; registries[] entries may "
                  "set their own)");
  cmd->add_option("--registry-requests-per-second", f.registry_requests_per_second,
                  "sustained requests per second to one registry host, halved by each 429 and "
                  "growing back; 0 = no limit (default 100)");
  cmd->add_option("--registry-burst", f.registry_burst,
                  "requests that may go to one registry host at once after a quiet spell "
                  "(default 100)");
  cmd->add_option("--max-body-bytes", f.max_body_bytes,
                  "largest request body accepted (default 1048576)");
  cmd->add_option("--max-keys", f.max_keys, "most keys accepted in one request (default 1000)");
  cmd->add_option("--max-connections-per-peer", f.max_connections_per_peer,
                  "most open connections from one client IP address (default 128)");
  cmd->add_option("--handshake-timeout", f.handshake_timeout,
                  "time a connection has to finish the TLS handshake (default 2s)");
  cmd->add_option("--health-addr", f.health_address,
                  "plain-HTTP listener for /healthz, /readyz and /metrics: host:port, :port or "
                  "off (default :8081)");
  cmd->add_option("--log-level", f.log_level, "trace, debug, info, warn, error or off");
  cmd->callback([flags, &action] { action = [flags] { return RunServe(*flags); }; });
}

}  // namespace signet::cli
