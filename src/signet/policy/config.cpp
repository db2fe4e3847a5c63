#include "signet/policy/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

#include "signet/cosign/predicate_types.h"
#include "signet/policy/exempt_images.h"
#include "signet/policy/image_pattern.h"

namespace signet::policy {

namespace {

// The range of each bounded integer key. The YAML reader (which adds the
// line) and ValidateConfig (which also sees flags and Configs built in code)
// check these, so a value is refused with the same message wherever it came
// from.
struct Bounds {
  long long min;
  long long max;
};
constexpr Bounds kPortBounds{0, 65535};
constexpr Bounds kMaxBodyBytesBounds{1, 1LL << 32};
constexpr Bounds kMaxKeysBounds{1, 1000000};
constexpr Bounds kMaxConnectionsBounds{1, 1000000};
constexpr Bounds kWorkersBounds{1, 1024};
constexpr Bounds kCacheMaxEntriesBounds{1, 100000000};
constexpr Bounds kMaxConcurrentRequestsBounds{1, 100000};

std::string OutOfBounds(Bounds bounds) {
  return "must be between " + std::to_string(bounds.min) + " and " + std::to_string(bounds.max);
}

// Whether `value` (any integer type) lies within `bounds`.
template <typename Int>
bool WithinBounds(Int value, Bounds bounds) {
  if constexpr (std::is_signed_v<Int>) {
    return static_cast<long long>(value) >= bounds.min &&
           static_cast<long long>(value) <= bounds.max;
  } else {
    return value >= static_cast<unsigned long long>(bounds.min) &&
           value <= static_cast<unsigned long long>(bounds.max);
  }
}

// Walks a parsed YAML tree, converting nodes into typed values. The first
// error is kept; later conversions become no-ops so callers can stay linear.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  bool failed() const { return error_.has_value(); }
  Error error() const { return *error_; }

  void Fail(const YAML::Node& node, const std::string& path, const std::string& why) {
    if (error_) return;
    std::string where = source_;
    if (node.IsDefined() && node.Mark().line >= 0) {
      where += ":" + std::to_string(node.Mark().line + 1);
    }
    error_ = Error(ErrorCode::kParse, where + ": " + path + ": " + why);
  }

  // Rejects keys of a mapping that are not in `allowed`.
  bool ExpectMap(const YAML::Node& node, const std::string& path,
                 const std::set<std::string>& allowed) {
    if (failed()) return false;
    if (!node.IsMap()) {
      Fail(node, path.empty() ? "document" : path, "expected a mapping");
      return false;
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (!allowed.count(key)) {
        std::string known;
        for (const auto& k : allowed) known += (known.empty() ? "" : ", ") + k;
        Fail(entry.first, Join(path, key), "unknown key (known keys: " + known + ")");
        return false;
      }
    }
    return true;
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  void String(const YAML::Node& node, const std::string& path, std::string& out) {
    if (failed() || !node.IsDefined() || node.IsNull()) return;
    if (!node.IsScalar()) return Fail(node, path, "expected a string");
    out = node.Scalar();
  }

  void Bool(const YAML::Node& node, const std::string& path, bool& out) {
    if (failed() || !node.IsDefined() || node.IsNull()) return;
    const std::string s = node.IsScalar() ? node.Scalar() : "";
    if (s == "true") {
      out = true;
    } else if (s == "false") {
      out = false;
    } else {
      Fail(node, path, "expected true or false");
    }
  }

  template <typename Int>
  void Integer(const YAML::Node& node, const std::string& path, Int& out, Bounds bounds) {
    if (failed() || !node.IsDefined() || node.IsNull()) return;
    const std::string s = node.IsScalar() ? node.Scalar() : "";
    long long value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      return Fail(node, path, "expected an integer, got \"" + s + "\"");
    }
    if (value < bounds.min || value > bounds.max) return Fail(node, path, OutOfBounds(bounds));
    out = static_cast<Int>(value);
  }

  void Number(const YAML::Node& node, const std::string& path, double& out) {
    if (failed() || !node.IsDefined() || node.IsNull()) return;
    const std::string s = node.IsScalar() ? node.Scalar() : "";
    char* end = nullptr;
    const double value = s.empty() ? 0 : std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(value)) {
      return Fail(node, path, "expected a number, got \"" + s + "\"");
    }
    out = value;
  }

  void Duration(const YAML::Node& node, const std::string& path, std::chrono::milliseconds& out) {
    if (failed() || !node.IsDefined() || node.IsNull()) return;
    auto parsed = ParseDuration(node.IsScalar() ? node.Scalar() : "");
    if (!parsed.ok()) return Fail(node, path, parsed.error().message());
    out = *parsed;
  }

  void StringList(const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
    if (failed() || !node.IsDefined() || node.IsNull()) return;
    if (!node.IsSequence()) return Fail(node, path, "expected a list of strings");
    out.clear();
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!node[i].IsScalar()) return Fail(node[i], item_path, "expected a string");
      out.push_back(node[i].Scalar());
    }
  }

  void StringMap(const YAML::Node& node, const std::string& path,
                 std::map<std::string, std::string>& out) {
    if (failed() || !node.IsDefined() || node.IsNull()) return;
    if (!node.IsMap()) return Fail(node, path, "expected a mapping of strings");
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (!entry.second.IsScalar()) {
        return Fail(entry.second, Join(path, key), "expected a string");
      }
      out[key] = entry.second.Scalar();
    }
  }

 private:
  std::string source_;
  std::optional<Error> error_;
};

void ReadServer(Reader& r, const YAML::Node& node, ServerConfig& out) {
  const std::string p = "server";
  if (!node.IsDefined() || node.IsNull()) return;
  if (!r.ExpectMap(node, p,
                   {"port", "address", "tlsCertFile", "tlsKeyFile", "clientCAFile", "clientSANs",
                    "tlsMinVersion", "insecureHTTP", "maxBodyBytes", "maxKeys", "maxConnections",
                    "maxConnectionsPerPeer", "handshakeTimeout", "headerTimeout", "readTimeout",
                    "healthAddress", "validatePath", "mutatePath"})) {
    return;
  }
  r.Integer(node["port"], p + ".port", out.port, kPortBounds);
  r.String(node["address"], p + ".address", out.address);
  r.String(node["tlsCertFile"], p + ".tlsCertFile", out.tls_cert_file);
  r.String(node["tlsKeyFile"], p + ".tlsKeyFile", out.tls_key_file);
  r.String(node["clientCAFile"], p + ".clientCAFile", out.client_ca_file);
  r.StringList(node["clientSANs"], p + ".clientSANs", out.client_sans);
  r.String(node["tlsMinVersion"], p + ".tlsMinVersion", out.tls_min_version);
  if (!r.failed() && out.tls_min_version != "1.2" && out.tls_min_version != "1.3") {
    r.Fail(node["tlsMinVersion"], p + ".tlsMinVersion", "must be \"1.2\" or \"1.3\"");
  }
  r.Bool(node["insecureHTTP"], p + ".insecureHTTP", out.insecure_http);
  r.Integer(node["maxBodyBytes"], p + ".maxBodyBytes", out.max_body_bytes, kMaxBodyBytesBounds);
  r.Integer(node["maxKeys"], p + ".maxKeys", out.max_keys, kMaxKeysBounds);
  r.Integer(node["maxConnections"], p + ".maxConnections", out.max_connections,
            kMaxConnectionsBounds);
  r.Integer(node["maxConnectionsPerPeer"], p + ".maxConnectionsPerPeer",
            out.max_connections_per_peer, kMaxConnectionsBounds);
  r.Duration(node["handshakeTimeout"], p + ".handshakeTimeout", out.handshake_timeout);
  r.Duration(node["headerTimeout"], p + ".headerTimeout", out.header_timeout);
  r.Duration(node["readTimeout"], p + ".readTimeout", out.read_timeout);
  r.String(node["healthAddress"], p + ".healthAddress", out.health_address);
  if (!r.failed()) {
    if (auto parsed = ParseListenAddress(out.health_address); !parsed.ok()) {
      r.Fail(node["healthAddress"], p + ".healthAddress", parsed.error().message());
    }
  }
  r.String(node["validatePath"], p + ".validatePath", out.validate_path);
  r.String(node["mutatePath"], p + ".mutatePath", out.mutate_path);
}

}  // namespace

Result<SignatureFormats> ParseSignatureFormats(std::string_view text) {
  if (text == "both") return SignatureFormats::kBoth;
  if (text == "legacy") return SignatureFormats::kLegacy;
  return Error(ErrorCode::kInvalidArgument,
               "must be \"both\" or \"legacy\", got \"" + std::string(text) + "\"");
}

namespace {

void ReadVerification(Reader& r, const YAML::Node& node, VerificationConfig& out) {
  const std::string p = "verification";
  if (!node.IsDefined() || node.IsNull()) return;
  if (!r.ExpectMap(node, p,
                   {"deadline", "mutateDeadline", "workers", "cacheTTL", "negativeCacheTTL",
                    "tagCacheTTL", "cacheMaxEntries", "refreshAhead", "lastKnownGoodGrace",
                    "unmatchedImages", "signatureFormats"})) {
    return;
  }
  r.Duration(node["deadline"], p + ".deadline", out.deadline);
  r.Duration(node["mutateDeadline"], p + ".mutateDeadline", out.mutate_deadline);
  r.Integer(node["workers"], p + ".workers", out.workers, kWorkersBounds);
  r.Duration(node["cacheTTL"], p + ".cacheTTL", out.cache_ttl);
  r.Duration(node["negativeCacheTTL"], p + ".negativeCacheTTL", out.negative_cache_ttl);
  r.Duration(node["tagCacheTTL"], p + ".tagCacheTTL", out.tag_cache_ttl);
  r.Integer(node["cacheMaxEntries"], p + ".cacheMaxEntries", out.cache_max_entries,
            kCacheMaxEntriesBounds);
  if (node["refreshAhead"].IsDefined() && !node["refreshAhead"].IsNull()) {
    std::chrono::milliseconds refresh_ahead{0};
    r.Duration(node["refreshAhead"], p + ".refreshAhead", refresh_ahead);
    out.refresh_ahead = refresh_ahead;
  }
  r.Duration(node["lastKnownGoodGrace"], p + ".lastKnownGoodGrace", out.last_known_good_grace);
  std::string unmatched;
  r.String(node["unmatchedImages"], p + ".unmatchedImages", unmatched);
  if (unmatched == "deny") {
    out.unmatched_images = UnmatchedImages::kDeny;
  } else if (unmatched == "verify") {
    out.unmatched_images = UnmatchedImages::kVerify;
  } else if (!unmatched.empty()) {
    r.Fail(node["unmatchedImages"], p + ".unmatchedImages",
           "must be \"deny\" or \"verify\", got \"" + unmatched + "\"");
  }
  std::string formats;
  r.String(node["signatureFormats"], p + ".signatureFormats", formats);
  auto parsed = ParseSignatureFormats(formats.empty() ? "both" : formats);
  if (parsed.ok()) {
    out.signature_formats = *parsed;
  } else {
    r.Fail(node["signatureFormats"], p + ".signatureFormats", parsed.error().message());
  }
}

void ReadCache(Reader& r, const YAML::Node& node, CacheConfig& out) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!r.ExpectMap(node, "cache", {"redis"})) return;
  const YAML::Node redis = node["redis"];
  const std::string p = "cache.redis";
  if (!redis.IsDefined() || redis.IsNull()) return;
  if (!r.ExpectMap(redis, p,
                   {"address", "timeout", "keyPrefix", "passwordFile", "passwordEnv", "hmacKeyFile",
                    "hmacKeyEnv", "maxReconnectBackoff"})) {
    return;
  }
  r.String(redis["address"], p + ".address", out.redis.address);
  r.Duration(redis["timeout"], p + ".timeout", out.redis.timeout);
  r.String(redis["keyPrefix"], p + ".keyPrefix", out.redis.key_prefix);
  r.String(redis["passwordFile"], p + ".passwordFile", out.redis.password_file);
  r.String(redis["passwordEnv"], p + ".passwordEnv", out.redis.password_env);
  r.String(redis["hmacKeyFile"], p + ".hmacKeyFile", out.redis.hmac_key_file);
  r.String(redis["hmacKeyEnv"], p + ".hmacKeyEnv", out.redis.hmac_key_env);
  r.Duration(redis["maxReconnectBackoff"], p + ".maxReconnectBackoff",
             out.redis.max_reconnect_backoff);
}

void ReadMutation(Reader& r, const YAML::Node& node, MutationConfig& out) {
  const std::string p = "mutation";
  if (!node.IsDefined() || node.IsNull()) return;
  if (!r.ExpectMap(node, p, {"exemptImages"})) return;
  r.StringList(node["exemptImages"], p + ".exemptImages", out.exempt_images);
  for (std::size_t i = 0; i < out.exempt_images.size() && !r.failed(); ++i) {
    if (auto status = ExemptImages::CheckEntry(out.exempt_images[i]); !status.ok()) {
      r.Fail(node["exemptImages"][i], p + ".exemptImages[" + std::to_string(i) + "]",
             status.error().message());
    }
  }
}

void ReadKeys(Reader& r, const YAML::Node& node, std::vector<KeyConfig>& out) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) return r.Fail(node, "keys", "expected a list of {name, path}");
  out.clear();
  for (std::size_t i = 0; i < node.size() && !r.failed(); ++i) {
    const std::string p = "keys[" + std::to_string(i) + "]";
    if (!r.ExpectMap(node[i], p, {"name", "path"})) return;
    KeyConfig key;
    r.String(node[i]["name"], p + ".name", key.name);
    r.String(node[i]["path"], p + ".path", key.path);
    if (!r.failed() && key.path.empty()) r.Fail(node[i], p + ".path", "is required");
    if (key.name.empty()) key.name = key.path;
    out.push_back(std::move(key));
  }
}

void ReadPolicies(Reader& r, const YAML::Node& node, std::vector<PolicyConfig>& out) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) return r.Fail(node, "policies", "expected a list of policies");
  out.clear();
  for (std::size_t i = 0; i < node.size() && !r.failed(); ++i) {
    const std::string p = "policies[" + std::to_string(i) + "]";
    if (!r.ExpectMap(node[i], p, {"name", "images", "keys", "annotations", "attestations"})) return;
    PolicyConfig policy;
    r.String(node[i]["name"], p + ".name", policy.name);
    r.StringList(node[i]["images"], p + ".images", policy.images);
    r.StringList(node[i]["keys"], p + ".keys", policy.keys);
    r.StringMap(node[i]["annotations"], p + ".annotations", policy.annotations);
    r.StringList(node[i]["attestations"], p + ".attestations", policy.attestations);
    if (r.failed()) return;
    for (std::size_t j = 0; j < policy.attestations.size() && !r.failed(); ++j) {
      if (auto type = cosign::ResolvePredicateType(policy.attestations[j]); !type.ok()) {
        r.Fail(node[i]["attestations"][j], p + ".attestations[" + std::to_string(j) + "]",
               type.error().message());
      }
    }
    if (policy.name.empty()) r.Fail(node[i], p + ".name", "is required");
    if (policy.images.empty()) r.Fail(node[i], p + ".images", "needs at least one pattern");
    for (std::size_t j = 0; j < policy.images.size() && !r.failed(); ++j) {
      auto pattern = ImagePattern::Parse(policy.images[j]);
      if (!pattern.ok()) {
        r.Fail(node[i]["images"][j], p + ".images[" + std::to_string(j) + "]",
               pattern.error().message());
      }
    }
    out.push_back(std::move(policy));
  }
}

// A registries[] entry's own limits: only the keys given.
void ReadOptionalLimits(Reader& r, const YAML::Node& node, const std::string& p,
                        RegistryHostLimits& out) {
  if (node["maxConcurrentRequests"].IsDefined() && !node["maxConcurrentRequests"].IsNull()) {
    int value = 0;
    r.Integer(node["maxConcurrentRequests"], p + ".maxConcurrentRequests", value,
              kMaxConcurrentRequestsBounds);
    out.max_concurrent_requests = value;
  }
  if (node["requestsPerSecond"].IsDefined() && !node["requestsPerSecond"].IsNull()) {
    double value = 0;
    r.Number(node["requestsPerSecond"], p + ".requestsPerSecond", value);
    out.requests_per_second = value;
  }
  if (node["burst"].IsDefined() && !node["burst"].IsNull()) {
    double value = 0;
    r.Number(node["burst"], p + ".burst", value);
    out.burst = value;
  }
}

void ReadRegistryLimits(Reader& r, const YAML::Node& node, RegistryLimits& out) {
  const std::string p = "registryLimits";
  if (!node.IsDefined() || node.IsNull()) return;
  if (!r.ExpectMap(node, p, {"maxConcurrentRequests", "requestsPerSecond", "burst"})) return;
  r.Integer(node["maxConcurrentRequests"], p + ".maxConcurrentRequests",
            out.max_concurrent_requests, kMaxConcurrentRequestsBounds);
  r.Number(node["requestsPerSecond"], p + ".requestsPerSecond", out.requests_per_second);
  r.Number(node["burst"], p + ".burst", out.burst);
}

void ReadRegistries(Reader& r, const YAML::Node& node, std::vector<RegistryConfig>& out,
                    std::vector<RegistryHostLimits>& limits) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) return r.Fail(node, "registries", "expected a list of registries");
  out.clear();
  limits.clear();
  for (std::size_t i = 0; i < node.size() && !r.failed(); ++i) {
    const std::string p = "registries[" + std::to_string(i) + "]";
    if (!r.ExpectMap(node[i], p,
                     {"host", "usernameFile", "passwordFile", "caFile", "insecure",
                      "tokenRealmHosts", "maxConcurrentRequests", "requestsPerSecond", "burst"})) {
      return;
    }
    RegistryConfig registry;
    r.String(node[i]["host"], p + ".host", registry.host);
    r.String(node[i]["usernameFile"], p + ".usernameFile", registry.username_file);
    r.String(node[i]["passwordFile"], p + ".passwordFile", registry.password_file);
    r.String(node[i]["caFile"], p + ".caFile", registry.ca_file);
    r.Bool(node[i]["insecure"], p + ".insecure", registry.insecure);
    r.StringList(node[i]["tokenRealmHosts"], p + ".tokenRealmHosts", registry.token_realm_hosts);
    RegistryHostLimits own;
    ReadOptionalLimits(r, node[i], p, own);
    if (r.failed()) return;
    if (own.max_concurrent_requests || own.requests_per_second || own.burst) {
      own.host = registry.host;
      limits.push_back(std::move(own));
    }
    if (registry.host.empty()) r.Fail(node[i], p + ".host", "is required");
    if (registry.username_file.empty() != registry.password_file.empty()) {
      r.Fail(node[i], p, "usernameFile and passwordFile must be given together");
    }
    out.push_back(std::move(registry));
  }
}

// An IPv4 or IPv6 address literal, as the listener's bind accepts it.
bool IsIpLiteral(const std::string& host) {
  in6_addr buffer{};
  return inet_pton(AF_INET, host.c_str(), &buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &buffer) == 1;
}

}  // namespace

Config DefaultConfig() {
  Config config;
  config.keys.push_back({"default", "./cosign.pub"});
  config.policies.push_back({"default", {"**"}, {}, {}});
  return config;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid duration \"" + std::string(text) + "\"" + why);
  };
  const std::string expected = " (expected numbers with units ms, s, m or h, e.g. 2500ms or 1m30s)";
  // A bare integer is milliseconds.
  if (!text.empty() && text.size() <= 12 &&
      text.find_first_not_of("0123456789") == std::string_view::npos) {
    long long value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return std::chrono::milliseconds(value);
  }
  // Otherwise one or more <integer><unit> parts, largest unit first, as Go
  // writes durations ("1h2m3s", "3m0s", "1500ms").
  constexpr long long kMaxMilliseconds = 1000LL * 60 * 60 * 24 * 365 * 100;  // 100 years
  long long total = 0;
  long long previous_scale = 0;
  std::string_view rest = text;
  if (rest.empty()) return invalid(expected);
  while (!rest.empty()) {
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0 || digits > 12) return invalid(expected);
    long long value = 0;
    std::from_chars(rest.data(), rest.data() + digits, value);
    rest.remove_prefix(digits);
    std::size_t unit_length = 0;
    while (unit_length < rest.size() && (rest[unit_length] < '0' || rest[unit_length] > '9')) {
      ++unit_length;
    }
    const std::string_view unit = rest.substr(0, unit_length);
    rest.remove_prefix(unit_length);
    long long scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60 * 1000;
    } else if (unit == "h") {
      scale = 60 * 60 * 1000;
    } else if (unit.empty()) {
      return invalid(": a number without a unit after the first part" + expected);
    } else {
      return invalid(": unknown unit \"" + std::string(unit) + "\" (use ms, s, m or h)");
    }
    if (previous_scale != 0 && scale >= previous_scale) {
      return invalid(": units must go from largest to smallest, each once" + expected);
    }
    previous_scale = scale;
    if (value > kMaxMilliseconds / scale || total + value * scale > kMaxMilliseconds) {
      return invalid(": longer than 100 years");
    }
    total += value * scale;
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const long long ms = duration.count();
  if (ms != 0 && ms % (60 * 60 * 1000) == 0) return std::to_string(ms / (60 * 60 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

Result<Config> ReadConfig(std::string_view yaml, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kParse, std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                                        ": invalid YAML: " + e.msg);
  }
  Config config = DefaultConfig();
  if (root.IsNull()) return config;
  Reader r{std::string(source)};
  try {
    if (r.ExpectMap(
            root, "",
            {"server", "verification", "cache", "mutation", "keys", "policies", "registries",
             "registryLimits", "dockerConfigFile", "dangerouslySendCredentialsToAnyRegistry"})) {
      ReadServer(r, root["server"], config.server);
      ReadVerification(r, root["verification"], config.verification);
      ReadCache(r, root["cache"], config.cache);
      ReadMutation(r, root["mutation"], config.mutation);
      ReadKeys(r, root["keys"], config.keys);
      ReadPolicies(r, root["policies"], config.policies);
      RegistryAccessConfig& access = config.registry_access;
      ReadRegistries(r, root["registries"], access.registries, access.host_limits);
      ReadRegistryLimits(r, root["registryLimits"], access.limits);
      r.String(root["dockerConfigFile"], "dockerConfigFile", access.docker_config_file);
      r.Bool(root["dangerouslySendCredentialsToAnyRegistry"],
             "dangerouslySendCredentialsToAnyRegistry",
             access.dangerously_send_credentials_to_any_registry);
    }
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::kParse,
                 std::string(source) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (r.failed()) return r.error();
  return config;
}

Result<Config> ParseConfig(std::string_view yaml, std::string_view source, ConfigCheck check) {
  auto config = ReadConfig(yaml, source);
  if (!config.ok()) return config;
  if (auto status = ValidateConfig(*config, check); !status.ok()) {
    return status.error().WithContext(source);
  }
  return config;
}

namespace {

Result<std::string> ReadConfigText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kNotFound, "cannot read config file " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<Config> LoadConfigFile(const std::string& path, ConfigCheck check) {
  auto text = ReadConfigText(path);
  if (!text.ok()) return text.error();
  return ParseConfig(*text, path, check);
}

Result<Config> ReadConfigFile(const std::string& path) {
  auto text = ReadConfigText(path);
  if (!text.ok()) return text.error();
  return ReadConfig(*text, path);
}

Result<ValidConfig> CheckConfig(Config config) {
  if (auto status = ValidateConfig(config); !status.ok()) return status.error();
  return ValidConfig(std::move(config));
}

namespace {

// "host:port" or "[v6]:port" split into host and port (port as a number in
// [min_port, 65535]); errors are the reason only.
struct HostPort {
  std::string_view host;
  int port = 0;
};
Result<HostPort> SplitHostPort(std::string_view text, int min_port) {
  const auto invalid = [](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, why);
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      return invalid("an IPv6 address needs the form [address]:port");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalid("write an IPv6 address in brackets");
    }
  }
  int number = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number < min_port ||
      number > 65535) {
    return invalid("the port must be a number from " + std::to_string(min_port) + " to 65535");
  }
  return HostPort{host, number};
}

}  // namespace

Result<RedisAddress> ParseRedisAddress(std::string_view text) {
  const auto invalid = [text](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + std::string(text) + "\": " + why + " (expected host:port or [v6]:port)");
  };
  auto split = SplitHostPort(text, 1);
  if (!split.ok()) return invalid(split.error().message());
  if (split->host.empty()) return invalid("no host");
  for (const char c : split->host) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) return invalid("the host has a character that is not allowed");
  }
  return RedisAddress{std::string(split->host), split->port};
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const auto invalid = [text](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "\"" + std::string(text) + "\": " + why +
                     " (expected host:port, :port, [v6]:port or \"off\")");
  };
  if (text == "off") return ListenAddress{};
  auto split = SplitHostPort(text, 0);
  if (!split.ok()) return invalid(split.error().message());
  ListenAddress out;
  out.enabled = true;
  out.host = split->host.empty() ? "0.0.0.0" : std::string(split->host);
  out.port = split->port;
  if (!IsIpLiteral(out.host)) return invalid("the host must be an IP address");
  return out;
}

namespace {

Status ValidateRedisCache(const RedisCacheConfig& redis, std::chrono::milliseconds deadline,
                          ConfigCheck check) {
  const auto invalid = [](const std::string& message) {
    return Status(Error(ErrorCode::kInvalidArgument, "cache.redis." + message));
  };
  const bool complete = check == ConfigCheck::kComplete;
  const bool password = !redis.password_file.empty() || !redis.password_env.empty();
  const bool hmac_key = !redis.hmac_key_file.empty() || !redis.hmac_key_env.empty();
  if (redis.address.empty()) {
    if (complete) {
      if (password) return invalid("address: needed with passwordFile or passwordEnv");
      if (hmac_key) return invalid("address: needed with hmacKeyFile or hmacKeyEnv");
      return OkStatus();
    }
    // --redis-address may still give the address: the keys given with it
    // are checked below, and the address is required on the Config with the
    // flags applied.
    if (!password && !hmac_key) return OkStatus();
  } else if (auto address = ParseRedisAddress(redis.address); !address.ok()) {
    return invalid("address: " + address.error().message());
  }
  // A Redis call may take at most half the request deadline, so that a slow
  // Redis leaves the registry time to answer. (--deadline may still change
  // the deadline.)
  if (complete && (redis.timeout.count() <= 0 || redis.timeout * 2 > deadline)) {
    return invalid("timeout: must be positive and at most half of verification.deadline (" +
                   FormatDuration(deadline) + ")");
  }
  if (redis.key_prefix.size() > 128) return invalid("keyPrefix: at most 128 characters");
  for (const char c : redis.key_prefix) {
    if (!std::isgraph(static_cast<unsigned char>(c))) {
      return invalid("keyPrefix: printable characters without spaces only");
    }
  }
  if (!redis.password_file.empty() && !redis.password_env.empty()) {
    return invalid("passwordFile: give passwordFile or passwordEnv, not both");
  }
  // Without a shared secret anyone who can write to Redis could plant a
  // "valid" verdict: refuse to start rather than trust unauthenticated values.
  const bool both_hmac_keys = !redis.hmac_key_file.empty() && !redis.hmac_key_env.empty();
  if (both_hmac_keys || (!hmac_key && !redis.address.empty())) {
    return invalid(
        "hmacKeyFile: give hmacKeyFile or hmacKeyEnv (exactly one) with address: the secret, "
        "shared by the replicas, that authenticates the verdicts stored in Redis");
  }
  if (redis.max_reconnect_backoff.count() <= 0) {
    return invalid("maxReconnectBackoff: must be positive");
  }
  return OkStatus();
}

// ValidateConfig's checks of the registry section: limits within their
// ranges, no limits or (unless allowed) credentials for host "*", token
// realm hosts that are hosts.
Status CheckRegistryAccess(const RegistryAccessConfig& access, bool complete) {
  const auto invalid = [](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, why);
  };
  if (auto status = CheckRegistryLimits(access.limits, "registryLimits"); !status.ok()) {
    return status;
  }
  for (const auto& own : access.host_limits) {
    if (own.host == "*") {
      return invalid(
          "registries: host \"*\" cannot carry limits; registryLimits sets them for every host");
    }
    if (auto status = CheckRegistryLimits(own.Over(access.limits),
                                          "registries: host \"" + own.host + "\"");
        !status.ok()) {
      return status;
    }
  }
  for (const auto& registry : access.registries) {
    if (complete && registry.host == "*" && !registry.username_file.empty() &&
        !access.dangerously_send_credentials_to_any_registry) {
      return invalid(
          "registries: host \"*\" would send these credentials to every registry a pod names; "
          "name the registry host (registries[].host, or --registry-secret-host with "
          "--registry-secret-dir), or accept that with dangerouslySendCredentialsToAnyRegistry: "
          "true (--dangerously-send-credentials-to-any-registry)");
    }
    for (const auto& realm_host : registry.token_realm_hosts) {
      if (realm_host.empty() || realm_host.find_first_of("/*?#@ ") != std::string::npos) {
        return invalid("registries: host \"" + registry.host + "\": tokenRealmHosts entry \"" +
                       realm_host + "\" is not a host or host:port");
      }
    }
  }
  return OkStatus();
}

}  // namespace

Status ValidateConfig(const Config& config, ConfigCheck check) {
  // Checks between keys that a flag of signet serve can still satisfy run
  // only when complete (ConfigCheck).
  const bool complete = check == ConfigCheck::kComplete;
  const auto invalid = [](const std::string& message) {
    return Error(ErrorCode::kInvalidArgument, message);
  };
  const auto out_of_bounds = [&](const std::string& key, Bounds bounds) {
    return invalid(key + ": " + OutOfBounds(bounds));
  };
  const ServerConfig& s = config.server;
  if (!WithinBounds(s.port, kPortBounds)) return out_of_bounds("server.port", kPortBounds);
  if (s.tls_min_version != "1.2" && s.tls_min_version != "1.3") {
    return invalid("server.tlsMinVersion: must be \"1.2\" or \"1.3\"");
  }
  if (!WithinBounds(s.max_body_bytes, kMaxBodyBytesBounds)) {
    return out_of_bounds("server.maxBodyBytes", kMaxBodyBytesBounds);
  }
  if (!WithinBounds(s.max_keys, kMaxKeysBounds)) {
    return out_of_bounds("server.maxKeys", kMaxKeysBounds);
  }
  if (!WithinBounds(s.max_connections, kMaxConnectionsBounds)) {
    return out_of_bounds("server.maxConnections", kMaxConnectionsBounds);
  }
  if (!WithinBounds(s.max_connections_per_peer, kMaxConnectionsBounds)) {
    return out_of_bounds("server.maxConnectionsPerPeer", kMaxConnectionsBounds);
  }
  if (s.handshake_timeout.count() <= 0) return invalid("server.handshakeTimeout: must be positive");
  if (s.header_timeout.count() <= 0) return invalid("server.headerTimeout: must be positive");
  if (s.read_timeout.count() <= 0) return invalid("server.readTimeout: must be positive");
  if (auto health = ParseListenAddress(s.health_address); !health.ok()) {
    return invalid("server.healthAddress: " + health.error().message());
  } else if (complete && health->enabled && health->port != 0 && health->port == s.port) {
    return invalid("server.healthAddress: must not use server.port (" + std::to_string(s.port) +
                   ")");
  }
  if (complete && !s.client_sans.empty() && s.client_ca_file.empty()) {
    return invalid("server.clientSANs: needs server.clientCAFile (mTLS)");
  }
  if (complete && s.insecure_http && !s.client_ca_file.empty()) {
    return invalid("server.clientCAFile: mTLS cannot be used with server.insecureHTTP");
  }
  const VerificationConfig& v = config.verification;
  if (v.deadline.count() <= 0) return invalid("verification.deadline: must be positive");
  if (v.mutate_deadline.count() <= 0) {
    return invalid("verification.mutateDeadline: must be positive");
  }
  if (!WithinBounds(v.workers, kWorkersBounds)) {
    return out_of_bounds("verification.workers", kWorkersBounds);
  }
  if (!WithinBounds(v.cache_max_entries, kCacheMaxEntriesBounds)) {
    return out_of_bounds("verification.cacheMaxEntries", kCacheMaxEntriesBounds);
  }
  if (complete && v.refresh_ahead && v.refresh_ahead->count() != 0 &&
      *v.refresh_ahead >= v.cache_ttl) {
    return invalid("verification.refreshAhead: must be below verification.cacheTTL (0 = off)");
  }
  if (v.last_known_good_grace.count() < 0) {
    return invalid("verification.lastKnownGoodGrace: must not be negative (0 = off)");
  }
  if (auto status = ValidateRedisCache(config.cache.redis, v.deadline, check); !status.ok()) {
    return status;
  }
  for (std::size_t i = 0; i < config.mutation.exempt_images.size(); ++i) {
    if (auto status = ExemptImages::CheckEntry(config.mutation.exempt_images[i]); !status.ok()) {
      return invalid("mutation.exemptImages[" + std::to_string(i) +
                     "]: " + status.error().message());
    }
  }
  if (config.keys.empty()) return invalid("keys: at least one trusted key is required");
  std::set<std::string> key_names;
  for (const auto& key : config.keys) {
    if (!key_names.insert(key.name).second) {
      return invalid("keys: duplicate key name \"" + key.name + "\"");
    }
    if (key.path.empty()) return invalid("keys: key \"" + key.name + "\" has no path");
  }
  std::set<std::string> policy_names;
  for (const auto& policy : config.policies) {
    if (!policy_names.insert(policy.name).second) {
      return invalid("policies: duplicate policy name \"" + policy.name + "\"");
    }
    for (const auto& key : policy.keys) {
      if (complete && !key_names.count(key)) {
        return invalid("policies: policy \"" + policy.name + "\" refers to unknown key \"" + key +
                       "\"");
      }
    }
    for (const auto& type : policy.attestations) {
      if (auto uri = cosign::ResolvePredicateType(type); !uri.ok()) {
        return invalid("policies: policy \"" + policy.name + "\": " + uri.error().message());
      }
    }
    for (const auto& glob : policy.images) {
      auto pattern = ImagePattern::Parse(glob);
      if (!pattern.ok()) {
        return invalid("policies: policy \"" + policy.name + "\": " + pattern.error().message());
      }
    }
  }
  return CheckRegistryAccess(config.registry_access, complete);
}

RegistryLimits RegistryHostLimits::Over(const RegistryLimits& defaults) const {
  RegistryLimits limits = defaults;
  if (max_concurrent_requests) limits.max_concurrent_requests = *max_concurrent_requests;
  if (requests_per_second) limits.requests_per_second = *requests_per_second;
  if (burst) limits.burst = *burst;
  return limits;
}

Status CheckRegistryLimits(const RegistryLimits& limits, const std::string& what) {
  const auto invalid = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, what + ": " + why);
  };
  if (!WithinBounds(limits.max_concurrent_requests, kMaxConcurrentRequestsBounds)) {
    return invalid("maxConcurrentRequests " + OutOfBounds(kMaxConcurrentRequestsBounds));
  }
  if (!std::isfinite(limits.requests_per_second) || limits.requests_per_second < 0 ||
      limits.requests_per_second > 1000000) {
    return invalid("requestsPerSecond must be between 0 (no limit) and 1000000");
  }
  if (!std::isfinite(limits.burst) || limits.burst < 1 || limits.burst > 1000000) {
    return invalid("burst must be between 1 and 1000000");
  }
  return OkStatus();
}

namespace {

Status CheckCaFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kInvalidArgument,
                 what + ": cannot read the registry CA file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad() || text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 what + ": the registry CA file " + path + " holds no PEM certificate");
  }
  return OkStatus();
}

}  // namespace

Status CheckRegistryCaFiles(const RegistryAccessConfig& access) {
  for (std::size_t i = 0; i < access.registries.size(); ++i) {
    const RegistryConfig& registry = access.registries[i];
    if (registry.ca_file.empty()) continue;
    const std::string what =
        "registries[" + std::to_string(i) + "] (host \"" + registry.host + "\").caFile";
    if (auto status = CheckCaFile(what, registry.ca_file); !status.ok()) return status;
  }
  if (!access.ca_file.empty()) return CheckCaFile("--registry-cacert", access.ca_file);
  return OkStatus();
}

}  // namespace signet::policy
