// HTTP handlers for the External Data endpoints.
//
//   POST /validate: one item per key, in order; a valid image's value is its
//     digest-pinned reference, an invalid one's error is "<key>_invalid: <reason>".
//   POST /mutate: the same decisions; value is the digest-pinned reference
//     (a key that already pins a digest maps to itself), idempotent: true.
//     Answered within HandlerOptions::mutate_deadline, not the service's
//     deadline: Gatekeeper's mutating webhook has a shorter timeout. A key
//     that HandlerOptions::mutate_exempt_images exempts is answered with
//     itself (unchanged, never verified, no registry contact), logged with
//     decision "exempt" and counted as items_total{decision="exempt"}.
//     The validate path never reads that list: nothing unverified is valid.
//
// Every answer on these paths is HTTP 200 with a ProviderResponse. Requests
// refused before a handler runs (wrong method, body over the limit, malformed
// HTTP) are answered by Rejected() with a systemError when they target a
// provider path. Each request logs one JSON event with the request id and
// every key's decision and reason.
//
// Thread-safety: all methods may be called concurrently. The service and
// metrics must outlive this object.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "signet/policy/exempt_images.h"
#include "signet/provider/provider_metrics.h"
#include "signet/provider/verification_service.h"
#include "signet/server/router.h"

namespace signet::provider {

struct HandlerOptions {
  std::string validate_path = "/validate";
  std::string mutate_path = "/mutate";
  std::size_t max_keys = 1000;
  std::uint64_t max_body_bytes = 1024 * 1024;  // for the systemError text
  // Answer deadline of the mutate path, counted from the request's arrival;
  // the validate path uses the service's own deadline.
  std::chrono::milliseconds mutate_deadline{700};
  // Keys of the mutate path answered unchanged (config mutation.exemptImages).
  policy::ExemptImages mutate_exempt_images;
  // ValidateCached/MutateCached decline a body longer than this (about 16
  // keys) without parsing it: a large request would hold the I/O thread, and
  // every other connection on it, for its whole answer (measured in
  // bench/results/warm-validate.md: 100 keys on 16 connections were slower
  // inline than on the handler pool).
  std::size_t inline_max_body_bytes = 4096;
};

// One entry of the provider_request log line's "images" array, appended as
// JSON text: the bytes nlohmann::json::dump writes for the same object
// ("key", "decision", "policy", "cached"; "digest_reference" when valid,
// "graced" and "detail" when graced; "reason" and a differing "detail" when
// invalid; members in name order). The exempt form has "key", "decision":
// "exempt" and "exempt_by". Pure functions.
void AppendImageLog(std::string& out, const KeyDecision& decision);
void AppendExemptImageLog(std::string& out, const std::string& key, const std::string& exempt_by);

class ProviderHandlers {
 public:
  ProviderHandlers(VerificationService& service, ProviderMetrics* metrics, HandlerOptions options);

  server::HttpResponse Validate(const server::HttpRequest& request);
  server::HttpResponse Mutate(const server::HttpRequest& request);
  // The same answers when the caches hold every key's result (or the request
  // is answered without verifying: malformed, exempt, bad references), with
  // the same log line and metrics; otherwise std::nullopt, having logged and
  // counted nothing. Never blocks (VerificationService::DecideCached): the
  // server calls them on its I/O thread before handing the request to its
  // handler pool.
  std::optional<server::HttpResponse> ValidateCached(const server::HttpRequest& request);
  std::optional<server::HttpResponse> MutateCached(const server::HttpRequest& request);
  server::HttpResponse Rejected(server::RejectionKind kind, const server::HttpRequest& request);

  // Registers POST handlers for both paths (the *Cached ones as their inline
  // handlers) and the rejection handler.
  void Register(server::Router& router);

 private:
  enum class Endpoint { kValidate, kMutate };
  // With cached_only, std::nullopt when a key is not answered by the caches.
  std::optional<server::HttpResponse> Handle(Endpoint endpoint, const server::HttpRequest& request,
                                             bool cached_only);
  std::string EndpointName(Endpoint endpoint) const;

  VerificationService& service_;
  ProviderMetrics* metrics_;
  HandlerOptions options_;
};

}  // namespace signet::provider
