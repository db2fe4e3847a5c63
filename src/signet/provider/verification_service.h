// The verification engine behind /validate and /mutate.
//
// Decide() answers every key of one request:
// - parses the key as an image reference and picks its policy (PolicySet);
//   a bad reference, a registry host without a canonical form (see
//   policy::PolicySet) or an unmatched image is invalid at once; what a
//   key's text decides (PlannedKey) is kept by that text, bounded
//   (planned_keys_max_entries), so a key seen before is not parsed again;
// - answers from the caches when it can: tag -> digest (tag TTL), and
//   (digest, policy) -> result (TTL for successes, negative TTL for failures;
//   timeouts are never cached), both bounded LRU. Each distinct key of a
//   request asks each cache at most once: its probe asks the tag cache (a
//   tag key) and the verification cache (when the digest is known); on a
//   miss the verification flight it starts continues from what the probe
//   found and asks only what the probe could not (the verification cache
//   for a digest it has just resolved, or under a trust version that
//   changed since), then the shared cache, then the registry. A key whose
//   probe missed just as an identical flight ended starts a flight of its
//   own (the same verdict, verified again). Metrics: one tag-cache lookup
//   per distinct tag key of a request, and one verification-cache lookup
//   per key answered from it (a hit) or per verification flight (hit or
//   miss, after the tag is resolved);
// - resolves each policy once per trust version (ImageVerifier::Resolve:
//   its keys selected) and hands that ResolvedPolicy to every verification
//   under it; a new trust version (a key rotated, removed or added) resolves
//   it again before the next verification;
// - counts each verification that ends, including one that ends while
//   resolving its tag, in signet_provider_verifications_total;
// - otherwise runs the verification on a bounded worker pool, which is also
//   the executor the verifier fans its own fetches out on (ImageVerifier::
//   Verify): no thread is started per verification. Identical
//   verifications (same reference and policy) in flight at the same time,
//   within or across requests, run once (singleflight); the others wait for
//   that one;
// - waits for the results until the request deadline, then answers. A key
//   unfinished at the deadline is invalid with "verification timed out"; its
//   verification keeps running and fills the cache for later requests.
// - stale-while-revalidate (refresh_ahead > 0): a cached valid result looked
//   up within refresh_ahead of its expiry is answered at once, and one
//   background verification of that (digest, policy, keys) runs, however many
//   requests ask meanwhile. It renews the result when the image still
//   verifies, replaces it with the failure when the image no longer verifies
//   (the next answer is invalid), and leaves it to expire when the registry
//   is unavailable. A result is never answered after its expiry, nor under
//   other keys (the trust version is part of the cache key).
// - last-known-good grace (last_known_good_grace > 0): each valid
//   verification of a digest is remembered (bounded LRU) for cache_ttl +
//   grace under its policy and trust version. When verifying that digest
//   fails because the registry is unavailable (IsRegistryUnavailable), or is
//   unfinished at the deadline, the key is answered valid from that
//   remembered verdict, counted in signet_provider_grace_answers_total and
//   logged ("event":"grace_answer"). Only a digest known without the
//   registry qualifies: the key's own digest or a tag still in the tag
//   cache; a tag that cannot be resolved now is never graced. Any other
//   failure of that digest forgets the verdict; a trust version change makes
//   it unreachable at once.
// - shared verdict cache (options.shared_cache, cache.redis): on a miss of
//   the verification cache, the flight asks the shared cache for the
//   (digest, policy, trust version) subject (SharedSubject) before the
//   registry; a verdict found there fills the local cache for the time it
//   has left (at most the local TTL) and answers. Every verdict the local
//   cache stores is shared too (valid: cache_ttl, failures: negative TTL),
//   except failures that say the registry was unavailable to this replica
//   (IsRegistryUnavailable: they would deny on the others and defeat their
//   last-known-good grace). Stores happen after the waiters are answered.
//   A verdict read from the shared cache counts as this replica's own for
//   refresh-ahead and last-known-good grace. A refresh first asks the shared
//   cache: a valid verdict there with more than refresh_ahead left (another
//   replica verified the image since) renews the local result without the
//   registry (counted as refresh result "shared").
//   Grace answers and timeouts are never shared.
// Nothing unverified is ever reported valid.
//
// Thread-safety: Decide may be called concurrently from many threads. The
// destructor drops queued verifications and waits for running ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "signet/executor.h"
#include "signet/oci/reference.h"
#include "signet/policy/policy_set.h"
#include "signet/provider/expiring_cache.h"
#include "signet/provider/image_verifier.h"
#include "signet/provider/provider_metrics.h"
#include "signet/provider/shared_verdict_cache.h"

namespace signet::provider {

inline constexpr std::string_view kTimedOutReason = "verification timed out";

// True when `error` says the registry is unavailable rather than that the
// image is bad: a transport failure (kNetwork: connection refused or reset,
// DNS, TLS), a timeout (kTimeout), or an HTTP 429 or 5xx answer from the
// registry or its token server (the error's typed Error::http_status; the
// message text is never read). Never for refused credentials (401, 403),
// not-found, missing or non-matching signatures, digest mismatches, or
// protocol errors.
bool IsRegistryUnavailable(const Error& error);

struct VerificationServiceOptions {
  std::chrono::milliseconds deadline{2500};
  std::size_t workers = 16;
  std::chrono::milliseconds cache_ttl{5 * 60 * 1000};
  std::chrono::milliseconds negative_cache_ttl{10 * 1000};
  std::chrono::milliseconds tag_cache_ttl{30 * 1000};
  std::size_t cache_max_entries = 100000;
  // Keys whose parse and policy choice are kept, so that a key seen before
  // is not parsed and matched again (a pure function of the key's text and
  // the policies, which never change); least recently used dropped first.
  std::size_t planned_keys_max_entries = 10000;
  // Stale-while-revalidate window before a valid result's expiry; 0 = off.
  std::chrono::milliseconds refresh_ahead{0};
  // Last-known-good grace after a valid result's expiry; 0 = off.
  std::chrono::milliseconds last_known_good_grace{0};
  Clock clock = SteadyClock();  // for cache expiry only; deadlines use real time
  // The verdict cache replicas share; null = none.
  std::shared_ptr<SharedVerdictCache> shared_cache;
};

// The subject a verdict is shared under: the digest reference, the policy's
// name and a hash of what decides its verdicts (keys, required annotations),
// and the trust version (ImageVerifier::TrustVersion).
std::string SharedSubject(const std::string& digest_reference, const policy::PolicyConfig& policy,
                          const std::string& trust_version);

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
  bool graced = false;           // valid from a last-known-good verdict
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

  // Decides every key from the local caches alone, without blocking: no
  // registry, no shared cache, no waiting on a verification in flight. When
  // every key is answered that way (from the caches, or at once as a bad
  // reference or an unmatched image), returns what Decide would, with the
  // same metrics and background refreshes; otherwise returns std::nullopt
  // and has counted and started nothing (call Decide).
  std::optional<std::vector<KeyDecision>> DecideCached(const std::vector<std::string>& keys);

  const VerificationServiceOptions& options() const { return options_; }

  // How many times each local cache has been asked for an entry since the
  // service started (every lookup, unlike the hit and miss metrics, which
  // count per flight); for tests and diagnostics.
  struct CacheLookups {
    std::uint64_t tag = 0;
    std::uint64_t verification = 0;
    std::uint64_t planned_key = 0;  // a key's kept parse and policy choice
  };
  CacheLookups LocalCacheLookups() const;
  // How many keys' parse and policy choice are kept now
  // (options.planned_keys_max_entries at most).
  std::size_t PlannedKeysKept() const;

  // The verifier's readiness (ImageVerifier::Readiness); thread-safe.
  Status Readiness() { return verifier_->Readiness(); }

 private:
  struct Outcome {
    bool valid = false;
    std::string digest_reference;
    std::string reason;
    std::string detail;
    bool cached = false;
    bool graced = false;
  };
  struct TagEntry {
    bool ok = false;
    std::string digest;
    Outcome failure;
  };
  struct Flight;
  // A verdict to store in the shared cache once the waiters are answered.
  struct PendingShare {
    std::string subject;
    SharedVerdict verdict;
    std::chrono::milliseconds ttl{0};
  };

  // What a key's text alone decides: its reference, its policy, its flight
  // key and, when the key names a digest, the reference pinned to it. Kept
  // by key text (planned_), immutable once made.
  struct PlannedKey {
    oci::ImageReference reference;
    const policy::PolicyConfig* policy = nullptr;  // one of policies_'s
    std::string flight_key;
    std::optional<oci::ImageReference> pinned;  // set when the key names a digest
    std::string pinned_name;                    // pinned->Name()
  };
  // The keys of one request that share a (reference, policy): one outcome
  // answers every index in it.
  struct Group {
    std::shared_ptr<const PlannedKey> planned;
    std::vector<std::size_t> indices;
    std::optional<Outcome> outcome;
    const oci::ImageReference& reference() const { return planned->reference; }
    const policy::PolicyConfig& policy() const { return *planned->policy; }
    const std::string& flight_key() const { return planned->flight_key; }
  };
  // What a cache lookup found, before it is counted (Account).
  struct Probe {
    std::optional<Outcome> outcome;
    bool tag_looked_up = false;  // the key names a tag: the tag cache was asked
    bool tag_found = false;
    bool result_found = false;  // the verification cache answered
    std::string result_key;
    std::optional<oci::ImageReference> pinned;  // set with result_key
    std::chrono::steady_clock::time_point expires{};
  };
  // Parses the keys and groups them; a key that is invalid at once is
  // decided in `decisions` and joins no group.
  std::vector<Group> Plan(const std::vector<std::string>& keys,
                          std::vector<KeyDecision>& decisions);
  // The key's PlannedKey, from planned_ or made now (and kept); an error
  // decides the key invalid (`reason`, `detail`) and is not kept.
  std::shared_ptr<const PlannedKey> PlanKey(const std::string& key, KeyDecision& decision);
  // Answers each key of each group from its outcome; the groups' outcomes
  // are moved from (Fill is their last reader).
  static void Fill(std::vector<Group>& groups, std::vector<KeyDecision>& decisions);
  // `trust_version`: the verifier's, read once per request.
  Probe ProbeCaches(const PlannedKey& planned, const std::string& trust_version);
  // Counts a probe's lookups and starts the refresh a cached valid result is
  // due for.
  void Account(const Probe& probe, const policy::PolicyConfig& policy);
  // Joins the flight for `flight_key`, starting it when there is none; a
  // flight this call starts continues from `probe` (the caller's miss).
  // Returns the flight joined.
  std::shared_ptr<Flight> Join(const std::string& flight_key, const oci::ImageReference& reference,
                               const policy::PolicyConfig& policy, Probe&& probe,
                               Deadline deadline, std::function<void(const Outcome&)> on_done);
  void RunFlight(const std::string& flight_key, std::shared_ptr<Flight> flight,
                 const oci::ImageReference& reference, const policy::PolicyConfig& policy,
                 Probe& probe);
  // Verifies after `probe` missed, without asking again what it asked: the
  // tag cache is never asked, the verification cache only for an entry the
  // probe could not name (the tag's digest was unknown, or the trust version
  // changed since).
  Outcome Compute(const oci::ImageReference& reference, const policy::PolicyConfig& policy,
                  Probe& probe, Flight& flight, Deadline deadline,
                  std::optional<PendingShare>& share);
  // The shared cache's verdict for `result_key`, stored in the local cache.
  std::optional<Outcome> LookupShared(const std::string& result_key, const std::string& subject,
                                      const std::string& digest_reference);
  void Share(std::optional<PendingShare> share);
  // Refresh from the shared cache: true (and the local result renewed) when
  // it holds a valid verdict with more than refresh_ahead left.
  bool RenewFromShared(const std::string& result_key, const std::string& digest_reference,
                       const policy::PolicyConfig& policy, const std::string& trust_version);
  // The share of an outcome the local cache stored for `ttl`, if any.
  std::optional<PendingShare> ShareOf(const std::string& subject, const Outcome& outcome,
                                      const Error* error, std::chrono::milliseconds ttl) const;
  Outcome FailureOutcome(const Error& error) const;
  // `policy` resolved under `trust_version`: the value kept for it, else
  // resolved now (and kept when that succeeds).
  Result<std::shared_ptr<const ResolvedPolicy>> Resolved(const policy::PolicyConfig& policy,
                                                         const std::string& trust_version);
  // Verifies `pinned` under `policy` resolved for `trust_version`.
  Status VerifyUnder(const oci::ImageReference& pinned, DigestOrigin origin,
                     const policy::PolicyConfig& policy, const std::string& trust_version,
                     Deadline deadline);
  // Starts the background refresh of a valid result that expires at
  // `expires`, when refresh-ahead is on, it is due and none runs for it.
  // `pinned`: the image's reference pinned to the result's digest.
  void MaybeRefresh(const std::string& result_key, const oci::ImageReference& pinned,
                    const policy::PolicyConfig& policy,
                    std::chrono::steady_clock::time_point expires);
  void Refresh(const std::string& result_key, const oci::ImageReference& pinned,
               const policy::PolicyConfig& policy);
  // Records a valid verification for grace, or forgets the verdict after a
  // failure that is not the registry's unavailability.
  void Remember(const std::string& result_key, const std::string& digest_reference,
                std::chrono::steady_clock::time_point result_expires);
  void ForgetUnless(const std::string& result_key, const Error& error);
  // The grace answer for `digest_reference` after `error`, if any.
  std::optional<Outcome> Grace(const std::string& digest_reference,
                               const policy::PolicyConfig& policy, const Error& error);

  VerificationServiceOptions options_;
  std::shared_ptr<ImageVerifier> verifier_;
  policy::PolicySet policies_;
  ProviderMetrics* metrics_;
  ExpiringCache<Outcome> results_;
  ExpiringCache<TagEntry> tags_;
  ExpiringCache<std::string> remembered_;  // result key -> digest reference
  ExpiringCache<std::shared_ptr<const PlannedKey>> planned_;  // by key text
  std::mutex resolved_mu_;
  std::map<std::string, std::shared_ptr<const ResolvedPolicy>> resolved_;  // by policy name
  std::mutex refreshing_mu_;
  std::set<std::string> refreshing_;  // result keys being refreshed
  std::mutex flights_mu_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  ThreadPool pool_;  // last: destroyed first, while everything it uses still exists
};

}  // namespace signet::provider
