// The provider's configuration: a YAML document parsed into typed values.
//
// ParseConfig() rejects unknown keys, wrong types and bad values with an
// ErrorCode::kParse message naming the source, the key path and the line
// ("signet.yaml:12: verification.deadline: ..."). Omitted keys keep the
// defaults of DefaultConfig(), which match the seed deployment: port 8090,
// path /validate, public key ./cosign.pub and one catch-all policy.
//
// All types are plain values; safe to copy and to read from many threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "signet/result.h"

namespace signet::policy {

struct ServerConfig {
  int port = 8090;
  std::string address = "0.0.0.0";
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client_ca_file;            // non-empty enables mTLS
  std::vector<std::string> client_sans;  // optional DNS SAN pin for client certificates
  std::string tls_min_version = "1.3";   // "1.3" or "1.2"
  bool insecure_http = false;            // plain HTTP, for local development only
  std::uint64_t max_body_bytes = 1024 * 1024;
  std::size_t max_keys = 1000;
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_peer = 128;         // from one source IP address
  std::chrono::milliseconds handshake_timeout{2000};  // accept -> TLS handshake done
  std::chrono::milliseconds header_timeout{5000};     // handshake done -> request headers
  std::chrono::milliseconds read_timeout{10000};
  // Plain-HTTP listener for /healthz, /readyz and /metrics only, with limits
  // of its own: "host:port" (":8081" = every interface) or "off".
  std::string health_address = ":8081";
  std::string validate_path = "/validate";
  std::string mutate_path = "/mutate";
};

// What happens to an image that no policy matches.
enum class UnmatchedImages {
  kDeny,    // item error "no policy matches image"
  kVerify,  // verify with every trusted key and no required annotations
};

// Which cosign signature formats `signet serve` reads.
enum class SignatureFormats {
  kBoth,    // Sigstore bundle referrers, else legacy .sig (cosign v3's rule)
  kLegacy,  // only the legacy sha256-<hex>.sig tag (3 requests per cold verification)
};

struct VerificationConfig {
  // Below the shipped Provider timeout (2 s) with margin, so that Gatekeeper gets
  // signet's per-image reasons instead of giving up on the whole object.
  std::chrono::milliseconds deadline{1500};
  // The same for POST /mutate, which Gatekeeper calls from its mutating
  // webhook (1 s API server timeout by default): below that with margin, so
  // the mutator gets an answer ("verification timed out" included) instead of
  // the API server giving up on the webhook.
  std::chrono::milliseconds mutate_deadline{700};
  int workers = 16;
  std::chrono::milliseconds cache_ttl{5 * 60 * 1000};
  std::chrono::milliseconds negative_cache_ttl{10 * 1000};
  std::chrono::milliseconds tag_cache_ttl{30 * 1000};
  std::size_t cache_max_entries = 100000;
  // Stale-while-revalidate: a valid result looked up within this of its
  // expiry is answered and refreshed in the background. Unset: a tenth of
  // cache_ttl; 0 turns it off; must be below cache_ttl.
  std::optional<std::chrono::milliseconds> refresh_ahead;
  // Last-known-good grace after a valid result's expiry, while the registry
  // is unavailable; 0 (default) turns it off.
  std::chrono::milliseconds last_known_good_grace{0};
  UnmatchedImages unmatched_images = UnmatchedImages::kDeny;
  SignatureFormats signature_formats = SignatureFormats::kBoth;
};

struct KeyConfig {
  std::string name;
  std::string path;  // PEM public key file
};

struct PolicyConfig {
  std::string name;
  std::vector<std::string> images;  // globs over "registry/repo"
  std::vector<std::string> keys;    // key names; empty = all keys
  std::map<std::string, std::string> annotations;
  // Predicate types (cosign --type shorthands or URIs) that must each carry
  // an attestation that verifies with one of the policy's keys, besides the
  // signature; empty = none required.
  std::vector<std::string> attestations = {};
};

// Admission control of the requests to one registry host (oci/admission.h):
// how many run at once, and a token bucket (sustained rate and burst). The
// defaults suit public registries: below the request rates they throttle
// at, and 16 connections per host.
struct RegistryLimits {
  int max_concurrent_requests = 16;
  double requests_per_second = 100;  // 0 = no rate limit
  double burst = 100;
};

struct RegistryConfig {
  std::string host;  // host[:port], as in image references; "*" only with the opt-in below
  std::string username_file;
  std::string password_file;
  std::string ca_file;
  bool insecure = false;
  // Token realm hosts ("host" = port 443, or "host:port") on other hosts that
  // may receive this registry's credentials, over HTTPS only.
  std::vector<std::string> token_realm_hosts;
};

// The limits a registries[] entry sets for its host (its keys
// maxConcurrentRequests, requestsPerSecond, burst); each one not given is
// the registryLimits one.
struct RegistryHostLimits {
  std::string host;
  std::optional<int> max_concurrent_requests;
  std::optional<double> requests_per_second;
  std::optional<double> burst;

  // `defaults` with this entry's own limits on top.
  RegistryLimits Over(const RegistryLimits& defaults) const;
};

// POST /mutate only; /validate never reads this section.
struct MutationConfig {
  // Images that /mutate answers unchanged, without verifying them (see
  // exempt_images.h): the ConstraintTemplate's exemptImages, which keeps them
  // from /validate, so that the Assign mutators do not refuse them either.
  std::vector<std::string> exempt_images;
};

// The optional verdict cache that replicas share (cache.redis); off while
// `address` is empty. Read by provider::RedisVerdictCache.
struct RedisCacheConfig {
  std::string address;                    // "host:port" (IPv4/IPv6 literal or DNS name)
  std::chrono::milliseconds timeout{50};  // per Redis call, connecting included
  std::string key_prefix = "signet:";     // every key starts with it
  std::string password_file;              // AUTH password, read at start
  std::string password_env;               // or: the environment variable holding it
  // The secret (at least 32 bytes) the replicas authenticate every value in
  // Redis with (HMAC-SHA256), read at start; one of the two is required
  // with `address`.
  std::string hmac_key_file;
  std::string hmac_key_env;
  // Back-off between reconnect attempts after a failure: starts at
  // `timeout`'s tenfold (at least 100 ms), doubles, stops at this.
  std::chrono::milliseconds max_reconnect_backoff{30000};
};

struct CacheConfig {
  RedisCacheConfig redis;
};

// How the provider reaches registries: the top-level keys registries,
// registryLimits, dockerConfigFile and
// dangerouslySendCredentialsToAnyRegistry, and the client settings that only
// flags set. Read by provider::Provider when it builds its registry client,
// and by nothing else.
struct RegistryAccessConfig {
  std::vector<RegistryConfig> registries;
  // Admission limits of every registry host without its own (registries[]).
  RegistryLimits limits;
  // Hosts with limits of their own, one per registries[] entry that sets any.
  std::vector<RegistryHostLimits> host_limits;
  std::string docker_config_file;  // kubernetes imagePullSecret (.dockerconfigjson)
  // Lets a registries[] entry with host "*" carry credentials, which then go
  // to every registry any pod names. Off: such an entry is refused.
  bool dangerously_send_credentials_to_any_registry = false;
  // Registry client settings for every registry, under the registries[]
  // ones; set by flags only (--registry-cacert, --allow-insecure-registry).
  std::string ca_file;
  bool allow_insecure = false;
};

struct Config {
  ServerConfig server;
  VerificationConfig verification;
  CacheConfig cache;
  MutationConfig mutation;
  std::vector<KeyConfig> keys;
  std::vector<PolicyConfig> policies;
  RegistryAccessConfig registry_access;
};

// The configuration used when no file is given.
Config DefaultConfig();

// How much of a Config ValidateConfig (and so ParseConfig) checks.
enum class ConfigCheck {
  // The Config as it will be used: every check.
  kComplete,
  // A configuration file that `signet serve`'s flags still override: every
  // check but those between keys that a flag can still satisfy
  // (cache.redis.address with hmacKeyFile or passwordFile: --redis-address;
  // cache.redis.timeout against verification.deadline: --deadline;
  // server.healthAddress against server.port; server.clientSANs and
  // insecureHTTP against clientCAFile; verification.refreshAhead against
  // cacheTTL; policies[].keys against keys: --key; credentials for host "*":
  // --dangerously-send-credentials-to-any-registry). The caller checks the
  // Config with the flags applied with kComplete. (signet serve itself reads
  // its file with ReadConfigFile and checks once, after its flags; it uses
  // this check only to tell whether a refusal is the file's.)
  kBeforeFlags,
};

// Parses a YAML document; `source` names it in error messages.
Result<Config> ParseConfig(std::string_view yaml, std::string_view source,
                           ConfigCheck check = ConfigCheck::kComplete);
Result<Config> LoadConfigFile(const std::string& path, ConfigCheck check = ConfigCheck::kComplete);

// The YAML reader alone: what ParseConfig (and LoadConfigFile) check before
// ValidateConfig, i.e. the document's syntax, unknown keys, types and the
// range of each value, refused with the key and its line. For a caller that
// completes the Config first and then validates it once (signet serve: the
// file, then its flags, then CheckConfig).
Result<Config> ReadConfig(std::string_view yaml, std::string_view source);
Result<Config> ReadConfigFile(const std::string& path);

// The one check of a whole Config, whether it came from the file, from
// signet serve's flags on top of it, or from code: unique key and policy
// names, policies refer to known keys, the range of every bounded number
// (the same ranges and messages as the YAML reader's, "server.maxKeys: must
// be between 1 and 1000000"), TLS version, limits and durations, valid image globs and
// mutation.exemptImages entries (ExemptImages::CheckEntry),
// credentials for host "*" only with dangerously_send_credentials_to_any_registry,
// registry limits within their ranges (CheckRegistryLimits).
Status ValidateConfig(const Config& config, ConfigCheck check = ConfigCheck::kComplete);

// A Config that ValidateConfig accepted whole (ConfigCheck::kComplete).
// Only CheckConfig makes one, so what takes a ValidConfig (Provider::Create)
// does not check it again. A plain value; const methods are thread-safe.
class ValidConfig {
 public:
  const Config& config() const { return config_; }

 private:
  friend Result<ValidConfig> CheckConfig(Config config);
  explicit ValidConfig(Config config) : config_(std::move(config)) {}
  Config config_;
};

// ValidateConfig(config), and the config as a ValidConfig when it passes.
Result<ValidConfig> CheckConfig(Config config);

// Ranges of admission limits: maxConcurrentRequests 1..100000,
// requestsPerSecond 0..1000000 (0 = none), burst 1..1000000; `what` names
// the section in the message.
Status CheckRegistryLimits(const RegistryLimits& limits, const std::string& what);

// Reads every registries[].caFile (and `ca_file`, the --registry-cacert
// flag, when not empty): each must be a readable file holding at least one PEM
// certificate. A server must not start with a CA it cannot use, since every
// verification against that registry would then fail; the error names the key
// and the file. Reads files, unlike ValidateConfig.
Status CheckRegistryCaFiles(const RegistryAccessConfig& access);

// Where a listener binds, parsed from "host:port", ":port" (every IPv4
// interface, 0.0.0.0) or "[v6]:port"; the host must be an IP address
// literal; port 0 picks a free port. "off" gives enabled == false.
struct ListenAddress {
  bool enabled = false;
  std::string host;
  int port = 0;
};
Result<ListenAddress> ParseListenAddress(std::string_view text);

// Where the shared verdict cache's Redis listens: "host:port" or
// "[v6]:port"; the host is an IP address literal or a DNS name, the port
// 1-65535.
struct RedisAddress {
  std::string host;
  int port = 0;
};
Result<RedisAddress> ParseRedisAddress(std::string_view text);

// "2500ms", "10s", "5m", "1h", and Go's compound form "1m30s" (largest unit first);
// a bare integer is milliseconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// "both" or "legacy" (verification.signatureFormats, serve --signature-formats).
Result<SignatureFormats> ParseSignatureFormats(std::string_view text);

// "2500ms", "10s", "5m" as ParseDuration reads it back (the largest exact unit).
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace signet::policy
