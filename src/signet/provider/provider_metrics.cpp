#include "signet/provider/provider_metrics.h"

namespace signet::provider {

server::Counter& ProviderMetrics::Cached(std::atomic<server::Counter*>& slot,
                                         const std::function<server::Counter&()>& get) {
  server::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // The registry returns the same instance every time: threads that race
    // here store the same pointer.
    counter = &get();
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

ProviderMetrics::ProviderMetrics(server::MetricsRegistry& registry)
    : registry_(registry),
      in_flight_(registry.GetGauge("signet_provider_requests_in_flight",
                                   "Provider requests being answered now.")),
      verification_duration_(
          registry.GetHistogram("signet_provider_verification_duration_seconds",
                                "Time spent verifying one image against the registry.",
                                server::Histogram::DefaultLatencyBuckets())),
      coalesced_(registry.GetCounter(
          "signet_provider_coalesced_waits_total",
          "Verifications that joined an identical verification already in flight.")),
      grace_answers_(registry.GetCounter(
          "signet_provider_grace_answers_total",
          "Keys answered valid from a last-known-good verdict while the registry was "
          "unavailable.")),
      referrers_calls_skipped_(registry.GetCounter(
          "signet_provider_registry_referrers_calls_skipped_total",
          "Referrers API calls not made because the registry host said, less than 10 minutes "
          "before, that it has no referrers API (its fallback tag is read instead).")),
      shared_connection_failures_(
          registry.GetCounter("signet_provider_shared_cache_connection_failures_total",
                              "Failed connections or calls to the shared verdict cache (Redis).")),
      shared_up_(registry.GetGauge("signet_provider_shared_cache_up",
                                   "1 while the shared verdict cache (Redis) answers, else 0.")) {
  // Exposed from the start, so that alerts and dashboards see zeros.
  for (const char* result : {"valid", "invalid", "unavailable", "keys_changed", "shared"}) {
    RefreshCounter(result);
  }
  for (const char* result : {"hit", "miss", "malformed", "unauthenticated", "error"}) {
    SharedCacheCounter(true, result);
  }
  for (const char* result : {"stored", "error"}) SharedCacheCounter(false, result);
}

void ProviderMetrics::RequestFinished(const std::string& endpoint, const std::string& outcome,
                                      double seconds) {
  auto counter = [&]() -> server::Counter& {
    return registry_.GetCounter("signet_provider_requests_total",
                                "Provider requests by endpoint and outcome.",
                                {{"endpoint", endpoint}, {"outcome", outcome}});
  };
  auto duration = [&]() -> server::Histogram& {
    return registry_.GetHistogram("signet_provider_request_duration_seconds",
                                  "Time to answer a provider request.",
                                  server::Histogram::DefaultLatencyBuckets(),
                                  {{"endpoint", endpoint}});
  };
  const int endpoint_index = endpoint == "validate" ? 0 : endpoint == "mutate" ? 1 : -1;
  const int outcome_index = outcome == "allowed"        ? 0
                            : outcome == "denied"       ? 1
                            : outcome == "system_error" ? 2
                                                        : -1;
  if (endpoint_index < 0 || outcome_index < 0) {
    counter().Increment();
    duration().Observe(seconds);
    return;
  }
  Cached(requests_[endpoint_index * 3 + outcome_index], counter).Increment();
  // Observed after the count, as before: the series appears with the first
  // request of its endpoint.
  std::atomic<server::Histogram*>& slot = request_durations_[endpoint_index];
  server::Histogram* histogram = slot.load(std::memory_order_acquire);
  if (histogram == nullptr) {
    histogram = &duration();  // the same instance for every racing thread
    slot.store(histogram, std::memory_order_release);
  }
  histogram->Observe(seconds);
}

void ProviderMetrics::ItemDecided(const std::string& endpoint, ItemDecision decision) {
  const char* name = decision == ItemDecision::kValid     ? "valid"
                     : decision == ItemDecision::kInvalid ? "invalid"
                                                          : "exempt";
  auto counter = [&]() -> server::Counter& {
    return registry_.GetCounter("signet_provider_items_total",
                                "Answered keys by endpoint and decision.",
                                {{"endpoint", endpoint}, {"decision", name}});
  };
  const int endpoint_index = endpoint == "validate" ? 0 : endpoint == "mutate" ? 1 : -1;
  if (endpoint_index < 0) {
    counter().Increment();
    return;
  }
  Cached(items_[endpoint_index * 3 + static_cast<int>(decision)], counter).Increment();
}

void ProviderMetrics::Verified(const Error* error, double seconds) {
  const std::string result = error == nullptr ? "valid" : std::string(ErrorCodeName(error->code()));
  registry_
      .GetCounter("signet_provider_verifications_total",
                  "Image verifications run against the registry, by result.", {{"result", result}})
      .Increment();
  verification_duration_.Observe(seconds);
}

void ProviderMetrics::CacheLookup(const std::string& cache, CacheResult result) {
  const bool hit = result == CacheResult::kHit;
  auto counter = [&]() -> server::Counter& {
    return hit ? registry_.GetCounter("signet_provider_cache_hits_total", "Cache hits by cache.",
                                      {{"cache", cache}})
               : registry_.GetCounter("signet_provider_cache_misses_total",
                                      "Cache misses by cache.", {{"cache", cache}});
  };
  const int cache_index = cache == "verification" ? 0 : cache == "tag" ? 1 : -1;
  if (cache_index < 0) {
    counter().Increment();
    return;
  }
  Cached(cache_lookups_[cache_index * 2 + (hit ? 0 : 1)], counter).Increment();
}

void ProviderMetrics::CoalescedWait() { coalesced_.Increment(); }

void ProviderMetrics::Refreshed(const std::string& result) { RefreshCounter(result).Increment(); }

server::Counter& ProviderMetrics::RefreshCounter(const std::string& result) {
  return registry_.GetCounter("signet_provider_cache_refreshes_total",
                              "Background refreshes of cached valid results, by result.",
                              {{"result", result}});
}

void ProviderMetrics::GraceAnswer() { grace_answers_.Increment(); }

void ProviderMetrics::ReferrersCallSkipped() { referrers_calls_skipped_.Increment(); }

void ProviderMetrics::RegistryResponse(long status) {
  registry_
      .GetCounter("signet_provider_registry_requests_total",
                  "HTTP exchanges with registries by status code (0 = transport failure).",
                  {{"code", std::to_string(status)}})
      .Increment();
}

void ProviderMetrics::RegistryAdmission(const std::string& host, Admission event) {
  const char* name = nullptr;
  const char* help = nullptr;
  switch (event) {
    case Admission::kWaited:
      name = "signet_provider_registry_admission_waits_total";
      help = "Registry requests that waited for a slot or a token of their host.";
      break;
    case Admission::kRejected:
      name = "signet_provider_registry_admission_rejections_total";
      help =
          "Registry requests refused because their host could not admit them before their "
          "deadline.";
      break;
    case Admission::kThrottled:
      name = "signet_provider_registry_throttled_total";
      help = "HTTP 429 answers from registry hosts.";
      break;
    case Admission::kRateLowered:
      name = "signet_provider_registry_rate_lowered_total";
      help = "HTTP 429 answers that halved their registry host's request rate.";
      break;
  }
  registry_.GetCounter(name, help, {{"host", host}}).Increment();
}

server::Counter& ProviderMetrics::SharedCacheCounter(bool lookup, const char* result) {
  return lookup ? registry_.GetCounter("signet_provider_shared_cache_lookups_total",
                                       "Lookups in the shared verdict cache (Redis), by result.",
                                       {{"result", result}})
                : registry_.GetCounter("signet_provider_shared_cache_stores_total",
                                       "Verdicts stored in the shared verdict cache (Redis), by "
                                       "result.",
                                       {{"result", result}});
}

void ProviderMetrics::SharedCacheLookup(const char* result) {
  SharedCacheCounter(true, result).Increment();
}

void ProviderMetrics::SharedCacheStore(const char* result) {
  SharedCacheCounter(false, result).Increment();
}

void ProviderMetrics::SharedCacheConnectionFailure() { shared_connection_failures_.Increment(); }

void ProviderMetrics::SharedCacheUp(bool up) { shared_up_.Set(up ? 1 : 0); }

}  // namespace signet::provider
