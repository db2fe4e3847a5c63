#include "signet/provider/provider.h"

#include <thread>

#include "signet/log/json_log.h"
#include "signet/oci/admission.h"
#include "signet/oci/registry_router.h"
#include "signet/policy/policy_set.h"
#include "signet/policy/registry_credentials.h"
#include "signet/policy/trusted_keys.h"
#include "signet/provider/cosign_image_verifier.h"
#include "signet/provider/handlers.h"
#include "signet/provider/provider_metrics.h"
#include "signet/provider/redis_verdict_cache.h"
#include "signet/provider/verification_service.h"
#include "signet/server/https_server.h"
#include "signet/server/standard_routes.h"

namespace signet::provider {
namespace {

// The health listener serves three small GETs to the kubelet and Prometheus;
// its limits are its own, so a flood of the main port never reaches it.
server::ServerOptions HealthServerOptions(const policy::ListenAddress& address) {
  server::ServerOptions options;
  options.address = address.host;
  options.port = address.port;
  options.insecure_http = true;
  options.max_body_bytes = 4096;
  options.header_timeout = std::chrono::seconds(2);
  options.read_timeout = std::chrono::seconds(2);
  options.idle_timeout = std::chrono::seconds(10);
  options.max_connections = 64;
  options.max_connections_per_peer = 16;
  options.io_threads = 1;
  options.handler_threads = 2;
  return options;
}

oci::AdmissionLimits AdmissionLimitsOf(const policy::RegistryLimits& limits) {
  return {limits.max_concurrent_requests, limits.requests_per_second, limits.burst};
}

// Per-host admission control from registryLimits and registries[], with
// its waits, refusals and 429s counted.
oci::AdmissionOptions AdmissionOptionsOf(const policy::RegistryLimits& defaults,
                                         const std::vector<policy::RegistryHostLimits>& own_limits,
                                         ProviderMetrics* metrics) {
  oci::AdmissionOptions options;
  options.defaults = AdmissionLimitsOf(defaults);
  for (const policy::RegistryHostLimits& own : own_limits) {
    // "host" (any port) or "host:port", as admission control matches them.
    options.hosts[own.host] = AdmissionLimitsOf(own.Over(defaults));
  }
  options.observer.waited = [metrics](const std::string& host, double) {
    metrics->RegistryAdmission(host, ProviderMetrics::Admission::kWaited);
  };
  options.observer.rejected = [metrics](const std::string& host) {
    metrics->RegistryAdmission(host, ProviderMetrics::Admission::kRejected);
  };
  options.observer.throttled = [metrics](const std::string& host) {
    metrics->RegistryAdmission(host, ProviderMetrics::Admission::kThrottled);
  };
  options.observer.rate_lowered = [metrics](const std::string& host, double rate,
                                            double configured) {
    metrics->RegistryAdmission(host, ProviderMetrics::Admission::kRateLowered);
    log::LogEvent(spdlog::level::warn, {{"event", "registry_rate_lowered"},
                                        {"host", host},
                                        {"requests_per_second", rate},
                                        {"configured_requests_per_second", configured}});
  };
  return options;
}

// The registry-backed verifier: the trusted keys (keys[]), then one registry
// client per host from the registry section (registries[], registryLimits,
// the docker config and the flag-only client settings). `deadline` is the
// request deadline (verification.deadline).
Result<std::shared_ptr<ImageVerifier>> CreateRegistryVerifier(
    const std::vector<policy::KeyConfig>& key_files, const policy::RegistryAccessConfig& access,
    std::chrono::milliseconds deadline, policy::SignatureFormats formats,
    ProviderMetrics* metrics) {
  auto keys = policy::TrustedKeys::Load(key_files);
  if (!keys.ok()) return keys.error();
  if (auto status = policy::CheckRegistryCaFiles(access); !status.ok()) return status.error();
  oci::RegistryClientOptions client;
  client.allow_insecure = access.allow_insecure;
  client.ca_file = access.ca_file;
  client.keychain =
      std::make_shared<policy::SecretFileKeychain>(access.registries, access.docker_config_file);
  // The request deadline bounds what Gatekeeper waits for, not the registry
  // calls: a verification that outlives its request still fills the cache,
  // within a budget of its own (per request, and for the whole verification).
  const auto budget = RegistryBudget(deadline);
  client.request_timeout = budget;
  client.connect_timeout = RegistryConnectTimeout(budget);
  client.max_retries = 1;
  client.max_retry_wait = std::chrono::milliseconds(200);
  client.user_agent = "signet-provider";
  client.on_response = [metrics](const std::string&, long status) {
    metrics->RegistryResponse(status);
  };
  client.admission = std::make_shared<oci::RegistryAdmission>(
      AdmissionOptionsOf(access.limits, access.host_limits, metrics));
  client.on_referrers_call_skipped = [metrics](const std::string&) {
    metrics->ReferrersCallSkipped();
  };
  std::vector<oci::RegistryHostSettings> hosts;
  for (const policy::RegistryConfig& registry : access.registries) {
    hosts.push_back(
        {registry.host, registry.ca_file, registry.insecure, registry.token_realm_hosts});
  }
  auto registry = std::make_shared<oci::RegistryRouter>(client, hosts);
  return std::shared_ptr<ImageVerifier>(std::make_shared<CosignImageVerifier>(
      std::move(registry), std::move(keys).value(), budget, formats));
}

// The verification engine's settings: verification.* and cache.redis.
Result<VerificationServiceOptions> EngineOptionsOf(const policy::VerificationConfig& verification,
                                                   const policy::CacheConfig& cache,
                                                   ProviderMetrics* metrics) {
  VerificationServiceOptions engine;
  engine.deadline = verification.deadline;
  engine.workers = static_cast<std::size_t>(verification.workers);
  engine.cache_ttl = verification.cache_ttl;
  engine.negative_cache_ttl = verification.negative_cache_ttl;
  engine.tag_cache_ttl = verification.tag_cache_ttl;
  engine.cache_max_entries = verification.cache_max_entries;
  engine.refresh_ahead = verification.refresh_ahead.value_or(verification.cache_ttl / 10);
  engine.last_known_good_grace = verification.last_known_good_grace;
  if (!cache.redis.address.empty()) {
    auto shared = RedisVerdictCache::Create(cache.redis, metrics);
    if (!shared.ok()) return shared.error();
    engine.shared_cache = std::move(shared).value();
  }
  return engine;
}

// The handlers' settings: paths and request limits from server.*, the
// /mutate deadline and mutation.exemptImages.
Result<HandlerOptions> HandlerOptionsOf(const policy::ServerConfig& server,
                                        std::chrono::milliseconds mutate_deadline,
                                        const policy::MutationConfig& mutation) {
  HandlerOptions options;
  options.validate_path = server.validate_path;
  options.mutate_path = server.mutate_path;
  options.max_keys = server.max_keys;
  options.max_body_bytes = server.max_body_bytes;
  options.mutate_deadline = mutate_deadline;
  auto exempt = policy::ExemptImages::Create(mutation.exempt_images);
  if (!exempt.ok()) return exempt.error().WithContext("mutation.exemptImages");
  options.mutate_exempt_images = std::move(exempt).value();
  return options;
}

// The main listener's settings: server.*, and handler threads for `workers`
// verification workers.
server::ServerOptions ServerOptionsOf(const policy::ServerConfig& config, int workers) {
  server::ServerOptions options;
  options.address = config.address;
  options.port = config.port;
  options.insecure_http = config.insecure_http;
  options.cert_file = config.tls_cert_file;
  options.key_file = config.tls_key_file;
  options.client_ca_file = config.client_ca_file;
  options.client_sans = config.client_sans;
  options.tls_min_version = config.tls_min_version;
  options.max_body_bytes = config.max_body_bytes;
  options.handshake_timeout = config.handshake_timeout;
  options.header_timeout = config.header_timeout;
  options.read_timeout = config.read_timeout;
  options.max_connections = config.max_connections;
  options.max_connections_per_peer = config.max_connections_per_peer;
  // Handlers block until their request's deadline at most; enough threads
  // that a burst of requests waits on verifications, not on handler slots.
  options.handler_threads = std::max<std::size_t>(8, static_cast<std::size_t>(workers) * 4);
  return options;
}

}  // namespace

// Declaration order is destruction order reversed: the server goes first,
// then the handlers and the engine, and the metrics registry last.
struct Provider::Parts {
  server::MetricsRegistry metrics;
  std::unique_ptr<ProviderMetrics> provider_metrics;
  std::unique_ptr<VerificationService> service;
  std::unique_ptr<ProviderHandlers> handlers;
  std::unique_ptr<server::HttpsServer> server;
  // Declared after `server`: destroyed first, as its /readyz reads `server`.
  std::unique_ptr<server::HttpsServer> health_server;  // null when off
};

Provider::Provider(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Provider::~Provider() {
  if (parts_ && parts_->server) {
    parts_->server->Shutdown(std::chrono::milliseconds(0));
    Wait();
  }
}

Result<std::unique_ptr<Provider>> Provider::Create(const policy::ValidConfig& valid,
                                                   ProviderOptions options) {
  const policy::Config& config = valid.config();
  auto parts = std::make_unique<Parts>();
  parts->provider_metrics = std::make_unique<ProviderMetrics>(parts->metrics);
  ProviderMetrics* metrics = parts->provider_metrics.get();

  auto policies = policy::PolicySet::Create(config.policies, config.verification.unmatched_images);
  if (!policies.ok()) return policies.error();

  std::shared_ptr<ImageVerifier> verifier = options.verifier;
  if (!verifier) {
    auto created = CreateRegistryVerifier(config.keys, config.registry_access,
                                          config.verification.deadline,
                                          config.verification.signature_formats, metrics);
    if (!created.ok()) return created.error();
    verifier = std::move(created).value();
  }

  auto engine = EngineOptionsOf(config.verification, config.cache, metrics);
  if (!engine.ok()) return engine.error();
  parts->service = std::make_unique<VerificationService>(
      std::move(engine).value(), std::move(verifier), std::move(policies).value(), metrics);

  auto handler_options =
      HandlerOptionsOf(config.server, config.verification.mutate_deadline, config.mutation);
  if (!handler_options.ok()) return handler_options.error();
  parts->handlers = std::make_unique<ProviderHandlers>(*parts->service, metrics,
                                                       std::move(handler_options).value());

  server::Router router;
  parts->handlers->Register(router);
  Parts* raw = parts.get();
  // Both listeners' /readyz: the main server is serving and at least one
  // trusted key of every policy is loaded.
  const server::ReadinessProbe ready([raw]() -> Status {
    if (!raw->server || !raw->server->ready()) {
      return Error(ErrorCode::kInternal, "server is not serving yet");
    }
    return raw->service->Readiness();
  });
  server::AddStandardRoutes(router, parts->metrics, ready);

  const server::ServerOptions server_options =
      ServerOptionsOf(config.server, config.verification.workers);
  auto server = server::HttpsServer::Create(server_options, std::move(router), &parts->metrics);
  if (!server.ok()) return server.error();
  parts->server = std::move(server).value();

  auto health_address = policy::ParseListenAddress(config.server.health_address);
  if (!health_address.ok()) return health_address.error().WithContext("server.healthAddress");
  if (health_address->enabled) {
    server::Router health_router;
    server::AddStandardRoutes(health_router, parts->metrics, ready);
    // Its own (unexported) metrics registry: the provider's metrics describe
    // the main port, and probes would only add noise to them.
    auto health = server::HttpsServer::Create(HealthServerOptions(*health_address),
                                              std::move(health_router), nullptr);
    if (!health.ok()) return health.error().WithContext("health listener");
    parts->health_server = std::move(health).value();
  }
  return std::unique_ptr<Provider>(new Provider(std::move(parts)));
}

Status Provider::Start() {
  if (parts_->health_server) {
    if (auto status = parts_->health_server->Start(); !status.ok()) {
      return status.error().WithContext("health listener (server.healthAddress)");
    }
  }
  return parts_->server->Start();
}

int Provider::port() const { return parts_->server->port(); }

int Provider::health_port() const {
  return parts_->health_server ? parts_->health_server->port() : 0;
}

void Provider::Shutdown(std::chrono::milliseconds drain) { parts_->server->Shutdown(drain); }

// The health listener outlives the main server's drain, so that probes see
// /readyz 503 (and /healthz 200) while requests in flight finish.
void Provider::Wait() {
  parts_->server->Wait();
  if (parts_->health_server) {
    parts_->health_server->Shutdown(std::chrono::milliseconds(0));
    parts_->health_server->Wait();
  }
}

void Provider::ShutdownOnSignals(std::chrono::milliseconds drain,
                                 std::function<void(int)> on_signal) {
  parts_->server->ShutdownOnSignals(drain, std::move(on_signal));
}

server::MetricsRegistry& Provider::metrics() { return parts_->metrics; }

}  // namespace signet::provider
