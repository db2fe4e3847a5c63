// The provider's Prometheus metrics, looked up once in a MetricsRegistry:
//
//   signet_provider_requests_total{endpoint,outcome}   endpoint: validate | mutate | other
//                                                      outcome: allowed | denied | system_error
//   signet_provider_request_duration_seconds{endpoint}  histogram
//   signet_provider_requests_in_flight                  gauge
//   signet_provider_items_total{endpoint,decision}      decision: valid | invalid | exempt
//                                                       (exempt: /mutate only,
//                                                       mutation.exemptImages)
//   signet_provider_verifications_total{result}         result: valid | timeout | <error code>
//   signet_provider_verification_duration_seconds      histogram
//   signet_provider_cache_hits_total{cache}             cache: verification | tag
//   signet_provider_cache_misses_total{cache}
//   signet_provider_coalesced_waits_total
//   signet_provider_cache_refreshes_total{result}       background refreshes of valid results
//                                                       result: valid | invalid | unavailable |
//                                                       keys_changed | shared
//   signet_provider_grace_answers_total                 keys answered valid from a
//                                                       last-known-good verdict
//   signet_provider_registry_requests_total{code}       code: HTTP status, 0 = transport failure
//   signet_provider_registry_admission_waits_total{host}       requests that waited for a slot
//                                                              or a token of their host
//   signet_provider_registry_admission_rejections_total{host}  requests refused: not admitted
//                                                              before their deadline
//   signet_provider_registry_throttled_total{host}             429 answers
//   signet_provider_registry_rate_lowered_total{host}          429s that halved the host's rate
//   (host: "host:port" as requests address it)
//   signet_provider_registry_referrers_calls_skipped_total     referrers API calls not made:
//                                                              the host said it has no API
//   signet_provider_shared_cache_lookups_total{result}  shared verdict cache (cache.redis)
//                                                       result: hit | miss | malformed | error
//   signet_provider_shared_cache_stores_total{result}   result: stored | error
//   signet_provider_shared_cache_connection_failures_total
//   signet_provider_shared_cache_up                     gauge: 1 while Redis answers
//
// Thread-safety: every method may be called concurrently. The registry must
// outlive this object.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <string>

#include "signet/result.h"
#include "signet/server/metrics.h"

namespace signet::provider {

// How a key of a request was answered.
enum class ItemDecision { kValid, kInvalid, kExempt };

class ProviderMetrics {
 public:
  explicit ProviderMetrics(server::MetricsRegistry& registry);

  void RequestFinished(const std::string& endpoint, const std::string& outcome, double seconds);
  void ItemDecided(const std::string& endpoint, ItemDecision decision);
  server::Gauge& in_flight() { return in_flight_; }

  // A finished verification, whether it ended resolving the tag or verifying
  // the digest; `error` is null when the image verified. An error with code
  // kTimeout counts as result "timeout".
  void Verified(const Error* error, double seconds);
  enum class CacheResult { kHit, kMiss };
  void CacheLookup(const std::string& cache, CacheResult result);
  void CoalescedWait();
  // A background refresh ended with `result` (see above).
  void Refreshed(const std::string& result);
  void GraceAnswer();
  void RegistryResponse(long status);
  enum class Admission { kWaited, kRejected, kThrottled, kRateLowered };
  void RegistryAdmission(const std::string& host, Admission event);
  // A referrers API call not made, as its host said it has no such API.
  void ReferrersCallSkipped();
  // The shared verdict cache (see above for the results).
  void SharedCacheLookup(const char* result);
  void SharedCacheStore(const char* result);
  void SharedCacheConnectionFailure();
  void SharedCacheUp(bool up);

  server::MetricsRegistry& registry() { return registry_; }

 private:
  server::Counter& RefreshCounter(const std::string& result);
  server::Counter& SharedCacheCounter(bool lookup, const char* result);
  // The counter in `slot`, looked up with `get` and kept there the first
  // time: a series still appears in the registry only once it is used.
  static server::Counter& Cached(std::atomic<server::Counter*>& slot,
                                 const std::function<server::Counter&()>& get);

  server::MetricsRegistry& registry_;
  server::Gauge& in_flight_;
  server::Histogram& verification_duration_;
  server::Counter& coalesced_;
  server::Counter& grace_answers_;
  server::Counter& referrers_calls_skipped_;
  server::Counter& shared_connection_failures_;
  server::Gauge& shared_up_;
  // Per-key counters, kept once used: items by {validate, mutate} x
  // {valid, invalid, exempt}; cache lookups by {verification, tag} x {hit, miss}.
  std::array<std::atomic<server::Counter*>, 6> items_{};
  std::array<std::atomic<server::Counter*>, 4> cache_lookups_{};
  // Per-request series, kept once used: requests by {validate, mutate} x
  // {allowed, denied, system_error}; durations by {validate, mutate}.
  std::array<std::atomic<server::Counter*>, 6> requests_{};
  std::array<std::atomic<server::Histogram*>, 2> request_durations_{};
};

}  // namespace signet::provider
