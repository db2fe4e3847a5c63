// The verification engine behind /validate and /mutate.
//
// Decide() answers every key of one request:
// - parses the key as an image reference and picks its policy (PolicySet);
//   a bad reference, a registry host without a canonical form (see
//   policy::PolicySet) or an unmatched image is invalid at once;
// - answers from the caches when it can: tag -> digest (tag TTL), and
//   (digest, policy) -> result (TTL for successes, negative TTL for failures;
//   timeouts are never cached), both bounded LRU. Metrics: one tag-cache
//   lookup per distinct tag key of a request, and one verification-cache
//   lookup per key answered from it (a hit) or per verification flight (hit or
//   miss, after the tag is resolved);
// - counts each verification that ends, including one that ends while
//   resolving its tag, in signet_provider_verifications_total;
// - otherwise runs the verification on a bounded worker pool. Identical
//   verifications (same reference and policy) in flight at the same time,
//   within or across requests, run once (singleflight); the others wait for
//   that one;
// - waits for the results until the request deadline, then answers. A key
//   unfinished at the deadline is invalid with "verification timed out"; its
//   verification keeps running and fills the cache for later requests.
// Nothing unverified is ever reported valid.
//
// Thread-safety: Decide may be called concurrently from many threads. The
// destructor drops queued verifications and waits for running ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "signet/oci/reference.h"
#include "signet/policy/policy_set.h"
#include "signet/provider/expiring_cache.h"
#include "signet/provider/image_verifier.h"
#include "signet/provider/provider_metrics.h"
#include "signet/provider/worker_pool.h"

namespace signet::provider {

inline constexpr std::string_view kTimedOutReason = "verification timed out";

struct VerificationServiceOptions {
  std::chrono::milliseconds deadline{2500};
  std::size_t workers = 16;
  std::chrono::milliseconds cache_ttl{5 * 60 * 1000};
  std::chrono::milliseconds negative_cache_ttl{10 * 1000};
  std::chrono::milliseconds tag_cache_ttl{30 * 1000};
  std::size_t cache_max_entries = 100000;
  Clock clock = SteadyClock();  // for cache expiry only; deadlines use real time
};

// The answer for one key.
struct KeyDecision {
  std::string key;
  bool valid = false;
  bool key_has_digest = false;   // the key itself pinned a digest
  std::string digest_reference;  // "registry/repo@sha256:<hex>" when valid
  std::string reason;            // short, user-facing reason when invalid
  std::string detail;            // longer reason for logs (never secrets)
  std::string policy;            // the policy applied ("" when none)
  bool cached = false;           // answered from a cache
};

class VerificationService {
 public:
  // `metrics` may be null.
  VerificationService(VerificationServiceOptions options, std::shared_ptr<ImageVerifier> verifier,
                      policy::PolicySet policies, ProviderMetrics* metrics);
  ~VerificationService();
  VerificationService(const VerificationService&) = delete;
  VerificationService& operator=(const VerificationService&) = delete;

  // Decides every key, in order (duplicates answered each time), and returns
  // by now + options.deadline.
  std::vector<KeyDecision> Decide(const std::vector<std::string>& keys);
  // The same with an explicit deadline.
  std::vector<KeyDecision> Decide(const std::vector<std::string>& keys, Deadline deadline);

  const VerificationServiceOptions& options() const { return options_; }

  // The verifier's readiness (ImageVerifier::Readiness); thread-safe.
  Status Readiness() { return verifier_->Readiness(); }

 private:
  struct Outcome {
    bool valid = false;
    std::string digest_reference;
    std::string reason;
    std::string detail;
    bool cached = false;
  };
  struct TagEntry {
    bool ok = false;
    std::string digest;
    Outcome failure;
  };
  struct Flight;

  std::optional<Outcome> LookupCached(const oci::ImageReference& reference,
                                      const policy::PolicyConfig& policy);
  void Join(const std::string& flight_key, const oci::ImageReference& reference,
            const policy::PolicyConfig& policy, Deadline deadline,
            std::function<void(const Outcome&)> on_done);
  void RunFlight(const std::string& flight_key, std::shared_ptr<Flight> flight,
                 const oci::ImageReference& reference, const policy::PolicyConfig& policy);
  Outcome Compute(const oci::ImageReference& reference, const policy::PolicyConfig& policy,
                  Deadline deadline);
  Outcome FailureOutcome(const Error& error) const;

  VerificationServiceOptions options_;
  std::shared_ptr<ImageVerifier> verifier_;
  policy::PolicySet policies_;
  ProviderMetrics* metrics_;
  ExpiringCache<Outcome> results_;
  ExpiringCache<TagEntry> tags_;
  std::mutex flights_mu_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  WorkerPool pool_;  // last: destroyed first, while everything it uses still exists
};

}  // namespace signet::provider
