#include "signet/provider/handlers.h"

#include <chrono>

#include "signet/json_writer.h"
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

void AppendExemptImageLog(std::string& out, const std::string& key, const std::string& exempt_by) {
  out += R"({"decision":"exempt","exempt_by":)";
  AppendJsonString(out, exempt_by);
  out += R"(,"key":)";
  AppendJsonString(out, key);
  out.push_back('}');
}

void AppendImageLog(std::string& out, const KeyDecision& decision) {
  // Members in name order, as nlohmann::json writes an object.
  out += decision.cached ? R"({"cached":true,"decision":)" : R"({"cached":false,"decision":)";
  out += decision.valid ? R"("valid")" : R"("invalid")";
  const bool with_detail = decision.valid ? decision.graced
                                          : !decision.detail.empty() &&
                                                decision.detail != decision.reason;
  if (with_detail) {
    out += R"(,"detail":)";
    AppendJsonString(out, decision.detail);
  }
  if (decision.valid) {
    out += R"(,"digest_reference":)";
    AppendJsonString(out, decision.digest_reference);
    if (decision.graced) out += R"(,"graced":true)";
  }
  out += R"(,"key":)";
  AppendJsonString(out, decision.key);
  out += R"(,"policy":)";
  AppendJsonString(out, decision.policy);
  if (!decision.valid) {
    out += R"(,"reason":)";
    AppendJsonString(out, decision.reason);
  }
  out.push_back('}');
}

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
  auto request_seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto count_request = [&](const std::string& outcome, double seconds) {
    if (metrics_) {
      metrics_->RequestFinished(name, outcome, seconds);
      metrics_->in_flight().Decrement();
    }
  };

  auto parsed = ParseProviderRequest(request.body, options_.max_keys);
  if (!parsed.ok()) {
    if (metrics_ && cached_only) metrics_->in_flight().Increment();
    const double seconds = request_seconds();
    count_request("system_error", seconds);
    log::LogEvent(spdlog::level::warn, {{"event", "provider_request"},
                                        {"request_id", request.request_id},
                                        {"endpoint", name},
                                        {"outcome", "system_error"},
                                        {"duration_ms", seconds * 1000.0},
                                        {"system_error", parsed.error().message()}});
    return JsonResponse(SystemErrorResponse(parsed.error().message(), mutate));
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
  // The provider_request line's "images", written as JSON text (the line is
  // only built when it is written).
  const bool log_request = log::Enabled(spdlog::level::info);
  std::string images;
  if (log_request) {
    images.reserve(parsed->keys.size() * 256);
    images.push_back('[');
  }
  bool all_valid = true;
  std::size_t next_decision = 0;
  for (std::size_t i = 0; i < parsed->keys.size(); ++i) {
    if (log_request && i > 0) images.push_back(',');
    ResponseItem item;
    if (exempt_by[i]) {
      item.key = parsed->keys[i];
      item.value = parsed->keys[i];
      if (metrics_) metrics_->ItemDecided(name, ItemDecision::kExempt);
      if (log_request) AppendExemptImageLog(images, item.key, *exempt_by[i]);
      response.items.push_back(std::move(item));
      continue;
    }
    KeyDecision& decision = decisions.at(next_decision++);
    if (log_request) AppendImageLog(images, decision);
    // The decision is not read again: its strings move into the answer.
    if (decision.valid) {
      item.value = (mutate && decision.key_has_digest) ? decision.key
                                                       : std::move(decision.digest_reference);
    } else {
      all_valid = false;
      item.error = decision.key + "_invalid: " + decision.reason;
    }
    item.key = std::move(decision.key);
    if (metrics_) {
      metrics_->ItemDecided(name, decision.valid ? ItemDecision::kValid : ItemDecision::kInvalid);
    }
    response.items.push_back(std::move(item));
  }
  const std::string outcome = all_valid ? "allowed" : "denied";
  const double seconds = request_seconds();
  count_request(outcome, seconds);
  if (log_request) {
    images.push_back(']');
    std::string api_version, duration_ms, endpoint, outcome_text, request_id;
    AppendJsonString(api_version, parsed->api_version);
    AppendJson(duration_ms, nlohmann::json(seconds * 1000.0));
    AppendJsonString(endpoint, name);
    AppendJsonString(outcome_text, outcome);
    AppendJsonString(request_id, request.request_id);
    log::LogEventFields(spdlog::level::info, {{"api_version", api_version},
                                              {"duration_ms", duration_ms},
                                              {"endpoint", endpoint},
                                              {"event", R"("provider_request")"},
                                              {"images", images},
                                              {"outcome", outcome_text},
                                              {"request_id", request_id}});
  }
  return JsonResponse(response);
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
