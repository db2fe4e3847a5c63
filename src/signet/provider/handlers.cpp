#include "signet/provider/handlers.h"

#include <chrono>

#include "signet/log/json_log.h"
#include "signet/provider/protocol.h"

namespace signet::provider {

namespace {

server::HttpResponse JsonResponse(const ProviderResponse& response) {
  server::HttpResponse http;
  http.status = 200;
  http.content_type = "application/json";
  http.body = SerializeProviderResponse(response);
  return http;
}

}  // namespace

ProviderHandlers::ProviderHandlers(VerificationService& service, ProviderMetrics* metrics,
                                   HandlerOptions options)
    : service_(service), metrics_(metrics), options_(std::move(options)) {}

std::string ProviderHandlers::EndpointName(Endpoint endpoint) const {
  return endpoint == Endpoint::kValidate ? "validate" : "mutate";
}

server::HttpResponse ProviderHandlers::Validate(const server::HttpRequest& request) {
  return *Handle(Endpoint::kValidate, request, /*cached_only=*/false);
}

server::HttpResponse ProviderHandlers::Mutate(const server::HttpRequest& request) {
  return *Handle(Endpoint::kMutate, request, /*cached_only=*/false);
}

std::optional<server::HttpResponse> ProviderHandlers::ValidateCached(
    const server::HttpRequest& request) {
  return Handle(Endpoint::kValidate, request, /*cached_only=*/true);
}

std::optional<server::HttpResponse> ProviderHandlers::MutateCached(
    const server::HttpRequest& request) {
  return Handle(Endpoint::kMutate, request, /*cached_only=*/true);
}

std::optional<server::HttpResponse> ProviderHandlers::Handle(Endpoint endpoint,
                                                             const server::HttpRequest& request,
                                                             bool cached_only) {
  if (cached_only && request.body.size() > options_.inline_max_body_bytes) return std::nullopt;
  const auto start = std::chrono::steady_clock::now();
  const bool mutate = endpoint == Endpoint::kMutate;
  const std::string name = EndpointName(endpoint);
  // The cached-only pass counts the request only once it answers it.
  if (metrics_ && !cached_only) metrics_->in_flight().Increment();
  auto finish = [&](const ProviderResponse& response, const std::string& outcome,
                    nlohmann::json event) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (metrics_) {
      metrics_->RequestFinished(name, outcome, seconds);
      metrics_->in_flight().Decrement();
    }
    event["event"] = "provider_request";
    event["request_id"] = request.request_id;
    event["endpoint"] = name;
    event["outcome"] = outcome;
    event["duration_ms"] = seconds * 1000.0;
    log::LogEvent(outcome == "system_error" ? spdlog::level::warn : spdlog::level::info,
                  std::move(event));
    return JsonResponse(response);
  };

  auto parsed = ParseProviderRequest(request.body, options_.max_keys);
  if (!parsed.ok()) {
    if (metrics_ && cached_only) metrics_->in_flight().Increment();
    return finish(SystemErrorResponse(parsed.error().message(), mutate), "system_error",
                  {{"system_error", parsed.error().message()}});
  }
  // The mutate path answers exempt keys itself; only the others are verified.
  std::vector<const std::string*> exempt_by(parsed->keys.size(), nullptr);
  bool any_exempt = false;
  if (mutate) {
    for (std::size_t i = 0; i < parsed->keys.size(); ++i) {
      exempt_by[i] = options_.mutate_exempt_images.Match(parsed->keys[i]);
      any_exempt = any_exempt || exempt_by[i] != nullptr;
    }
  }
  // Without exempt keys (always on /validate) every key is verified, and the
  // request's own list is used as it is.
  std::vector<std::string> non_exempt;
  if (any_exempt) {
    for (std::size_t i = 0; i < parsed->keys.size(); ++i) {
      if (!exempt_by[i]) non_exempt.push_back(parsed->keys[i]);
    }
  }
  const std::vector<std::string>& to_verify = any_exempt ? non_exempt : parsed->keys;
  std::vector<KeyDecision> decisions;
  if (cached_only) {
    if (!to_verify.empty()) {
      auto cached = service_.DecideCached(to_verify);
      if (!cached) return std::nullopt;  // a key needs the registry: the pool answers
      decisions = std::move(*cached);
    }
    if (metrics_) metrics_->in_flight().Increment();
  } else if (!to_verify.empty()) {
    decisions = mutate ? service_.Decide(to_verify, start + options_.mutate_deadline)
                       : service_.Decide(to_verify);
  }

  ProviderResponse response;
  response.idempotent = mutate;
  response.items.reserve(parsed->keys.size());
  nlohmann::json images = nlohmann::json::array();
  bool all_valid = true;
  std::size_t next_decision = 0;
  for (std::size_t i = 0; i < parsed->keys.size(); ++i) {
    ResponseItem item;
    if (exempt_by[i]) {
      item.key = parsed->keys[i];
      item.value = parsed->keys[i];
      if (metrics_) metrics_->ItemDecided(name, ItemDecision::kExempt);
      images.push_back({{"key", item.key}, {"decision", "exempt"}, {"exempt_by", *exempt_by[i]}});
      response.items.push_back(std::move(item));
      continue;
    }
    const KeyDecision& decision = decisions.at(next_decision++);
    item.key = decision.key;
    if (decision.valid) {
      item.value = (mutate && decision.key_has_digest) ? decision.key : decision.digest_reference;
    } else {
      all_valid = false;
      item.error = decision.key + "_invalid: " + decision.reason;
    }
    if (metrics_) {
      metrics_->ItemDecided(name, decision.valid ? ItemDecision::kValid : ItemDecision::kInvalid);
    }
    nlohmann::json image = {{"key", decision.key},
                            {"decision", decision.valid ? "valid" : "invalid"},
                            {"policy", decision.policy},
                            {"cached", decision.cached}};
    if (decision.valid) {
      image["digest_reference"] = decision.digest_reference;
      if (decision.graced) {
        image["graced"] = true;
        image["detail"] = decision.detail;
      }
    } else {
      image["reason"] = decision.reason;
      if (!decision.detail.empty() && decision.detail != decision.reason) {
        image["detail"] = decision.detail;
      }
    }
    images.push_back(std::move(image));
    response.items.push_back(std::move(item));
  }
  return finish(response, all_valid ? "allowed" : "denied",
                {{"api_version", parsed->api_version}, {"images", std::move(images)}});
}

server::HttpResponse ProviderHandlers::Rejected(server::RejectionKind kind,
                                                const server::HttpRequest& request) {
  const bool provider_path =
      request.path == options_.validate_path || request.path == options_.mutate_path;
  // Oversized and malformed requests may have no usable path; they still get
  // a ProviderResponse, which is what Gatekeeper can read.
  const bool whole_request_failure =
      kind == server::RejectionKind::kBodyTooLarge || kind == server::RejectionKind::kBadRequest;
  if (!provider_path && !whole_request_failure) {
    server::HttpResponse http;
    http.status = kind == server::RejectionKind::kNotFound           ? 404
                  : kind == server::RejectionKind::kMethodNotAllowed ? 405
                                                                     : 500;
    http.body = nlohmann::json{{"error", std::string(server::RejectionKindName(kind))}}.dump();
    return http;
  }
  std::string message;
  switch (kind) {
    case server::RejectionKind::kMethodNotAllowed:
      message = "only POST is allowed";
      break;
    case server::RejectionKind::kBodyTooLarge:
      message =
          "request body exceeds the limit of " + std::to_string(options_.max_body_bytes) + " bytes";
      break;
    case server::RejectionKind::kBadRequest:
      message = "malformed HTTP request";
      break;
    case server::RejectionKind::kNotFound:
      message = "not found";
      break;
    case server::RejectionKind::kInternalError:
      message = "internal error";
      break;
  }
  const bool mutate = request.path == options_.mutate_path;
  const std::string endpoint = mutate ? "mutate" : (provider_path ? "validate" : "other");
  if (metrics_) metrics_->RequestFinished(endpoint, "system_error", 0.0);
  log::LogEvent(spdlog::level::warn, {{"event", "provider_request"},
                                      {"request_id", request.request_id},
                                      {"endpoint", endpoint},
                                      {"outcome", "system_error"},
                                      {"system_error", message}});
  return JsonResponse(SystemErrorResponse(message, mutate));
}

void ProviderHandlers::Register(server::Router& router) {
  router.Handle(
      "POST", options_.validate_path,
      [this](const server::HttpRequest& request) { return Validate(request); },
      [this](const server::HttpRequest& request) { return ValidateCached(request); });
  router.Handle(
      "POST", options_.mutate_path,
      [this](const server::HttpRequest& request) { return Mutate(request); },
      [this](const server::HttpRequest& request) { return MutateCached(request); });
  router.OnRejected([this](server::RejectionKind kind, const server::HttpRequest& request) {
    return Rejected(kind, request);
  });
}

}  // namespace signet::provider
