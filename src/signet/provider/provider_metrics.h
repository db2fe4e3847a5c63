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
//                                                       keys_changed
//   signet_provider_grace_answers_total                 keys answered valid from a
//                                                       last-known-good verdict
//   signet_provider_registry_requests_total{code}       code: HTTP status, 0 = transport failure
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

  server::MetricsRegistry& registry() { return registry_; }

 private:
  server::Counter& RefreshCounter(const std::string& result);
  // The counter in `slot`, looked up with `get` and kept there the first
  // time: a series still appears in the registry only once it is used.
  static server::Counter& Cached(std::atomic<server::Counter*>& slot,
                                 const std::function<server::Counter&()>& get);

  server::MetricsRegistry& registry_;
  server::Gauge& in_flight_;
  server::Histogram& verification_duration_;
  server::Counter& coalesced_;
  server::Counter& grace_answers_;
  // Per-key counters, kept once used: items by {validate, mutate} x
  // {valid, invalid, exempt}; cache lookups by {verification, tag} x {hit, miss}.
  std::array<std::atomic<server::Counter*>, 6> items_{};
  std::array<std::atomic<server::Counter*>, 4> cache_lookups_{};
};

}  // namespace signet::provider
