#include "signet/provider/verification_service.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "signet/crypto/encoding.h"
#include "signet/log/json_log.h"

namespace signet::provider {

namespace {

// A planned key is a pure function of its text and the policies: it is
// dropped only to bound memory (least recently used first), or after a day.
constexpr std::chrono::hours kPlannedKeyTtl{24};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string ResultKey(const std::string& digest_reference, const std::string& policy,
                      const std::string& trust_version) {
  return digest_reference + "\n" + policy + "\n" + trust_version;
}

ProviderMetrics::CacheResult CacheLookupResult(bool found) {
  return found ? ProviderMetrics::CacheResult::kHit : ProviderMetrics::CacheResult::kMiss;
}

}  // namespace

std::string SharedSubject(const std::string& digest_reference, const policy::PolicyConfig& policy,
                          const std::string& trust_version) {
  // Length-prefixed fields: no two policies spell the same bytes.
  std::string decides;
  const auto field = [&decides](const std::string& text) {
    decides += std::to_string(text.size()) + ":" + text;
  };
  field(policy.name);
  decides += "keys" + std::to_string(policy.keys.size()) + ";";
  for (const auto& key : policy.keys) field(key);
  decides += "annotations" + std::to_string(policy.annotations.size()) + ";";
  for (const auto& [name, value] : policy.annotations) {
    field(name);
    field(value);
  }
  return "signet-verdict/1\n" + digest_reference + "\n" + policy.name + "\n" +
         crypto::Sha256Digest(decides) + "\n" + trust_version;
}

bool IsRegistryUnavailable(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNetwork:
    case ErrorCode::kTimeout:
      return true;
    default: {
      const int status = error.http_status();
      return status == 429 || (status >= 500 && status <= 599);
    }
  }
}

struct VerificationService::Flight {
  std::mutex mu;
  bool done = false;
  Outcome outcome;
  Deadline latest_deadline{};
  std::vector<std::function<void(const Outcome&)>> subscribers;
  // With last-known-good grace on: the image pinned to a digest known
  // without asking the registry again (a probe of a key that joined found
  // it, or the flight resolved the tag and the tag cache holds it now), for
  // the grace answer at the deadline. Never changed once set.
  std::optional<oci::ImageReference> pinned;
};

VerificationService::VerificationService(VerificationServiceOptions options,
                                         std::shared_ptr<ImageVerifier> verifier,
                                         policy::PolicySet policies, ProviderMetrics* metrics)
    : options_(std::move(options)),
      verifier_(std::move(verifier)),
      policies_(std::move(policies)),
      metrics_(metrics),
      results_(options_.cache_max_entries, options_.clock),
      tags_(options_.cache_max_entries, options_.clock),
      remembered_(options_.cache_max_entries, options_.clock),
      planned_(options_.planned_keys_max_entries, options_.clock),
      pool_(options_.workers) {}

VerificationService::~VerificationService() = default;

VerificationService::CacheLookups VerificationService::LocalCacheLookups() const {
  return {tags_.lookups(), results_.lookups(), planned_.lookups()};
}

std::size_t VerificationService::PlannedKeysKept() const { return planned_.size(); }

VerificationService::Outcome VerificationService::FailureOutcome(const Error& error) const {
  Outcome outcome;
  outcome.detail = error.message();
  outcome.reason = DenialReason(error);
  return outcome;
}

Result<std::shared_ptr<const ResolvedPolicy>> VerificationService::Resolved(
    const policy::PolicyConfig& policy, const std::string& trust_version) {
  // Held across Resolve, so that verifications starting together under a
  // new trust version resolve the policy once, not once each (Resolve only
  // selects loaded keys: no I/O beyond a key file's stat).
  std::lock_guard<std::mutex> lock(resolved_mu_);
  auto it = resolved_.find(policy.name);
  if (it != resolved_.end() && it->second->trust_version == trust_version) return it->second;
  auto resolved = verifier_->Resolve(policy);
  if (!resolved.ok()) return resolved.error();
  resolved_[policy.name] = *resolved;
  return resolved;
}

Status VerificationService::VerifyUnder(const oci::ImageReference& pinned, DigestOrigin origin,
                                        const policy::PolicyConfig& policy,
                                        const std::string& trust_version, Deadline deadline) {
  auto resolved = Resolved(policy, trust_version);
  if (!resolved.ok()) return resolved.error();
  return verifier_->Verify(pinned, origin, **resolved, deadline, &pool_);
}

VerificationService::Probe VerificationService::ProbeCaches(const PlannedKey& planned,
                                                            const std::string& trust_version) {
  const oci::ImageReference& reference = planned.reference;
  const policy::PolicyConfig& policy = *planned.policy;
  Probe probe;
  if (planned.pinned) {
    // The key's own digest, pinned when the key was planned.
    probe.result_key = ResultKey(planned.pinned_name, policy.name, trust_version);
    probe.pinned = planned.pinned;
  } else if (reference.digest().empty()) {
    auto tag = tags_.Get(reference.repository().Name() + ":" + reference.tag());
    probe.tag_looked_up = true;
    probe.tag_found = tag.has_value();
    if (!tag) return probe;
    if (!tag->ok) {
      probe.outcome = std::move(tag->failure);
      probe.outcome->cached = true;
      return probe;
    }
    auto pinned = reference.Pinned(tag->digest);
    if (!pinned.ok()) return probe;  // Compute() answers why
    probe.result_key = ResultKey(pinned->Name(), policy.name, trust_version);
    probe.pinned = std::move(pinned).value();
  } else {
    return probe;  // a digest that does not pin (never kept as planned): Compute() answers why
  }
  auto found = results_.Find(probe.result_key);
  if (!found) return probe;
  probe.result_found = true;
  probe.expires = found->expires;
  probe.outcome = std::move(found->value);
  probe.outcome->cached = true;
  return probe;
}

void VerificationService::Account(const Probe& probe, const policy::PolicyConfig& policy) {
  if (metrics_ && probe.tag_looked_up) {
    metrics_->CacheLookup("tag", CacheLookupResult(probe.tag_found));
  }
  // Only hits are counted here. A miss goes to a verification flight, whose
  // own lookup in Compute() counts once per flight, whether the key named a
  // digest or a tag (a tag missing from the tag cache never reaches this
  // lookup, so counting misses here left those out).
  if (!probe.result_found) return;
  if (metrics_) metrics_->CacheLookup("verification", ProviderMetrics::CacheResult::kHit);
  if (probe.outcome->valid) {
    MaybeRefresh(probe.result_key, *probe.pinned, policy, probe.expires);
  }
}

VerificationService::Outcome VerificationService::Compute(const oci::ImageReference& reference,
                                                          const policy::PolicyConfig& policy,
                                                          Probe& probe, Flight& flight,
                                                          Deadline deadline,
                                                          std::optional<PendingShare>& share) {
  const DigestOrigin origin =
      reference.has_digest() ? DigestOrigin::kRequested : DigestOrigin::kResolved;
  // The probe asked the tag cache and, for a digest it knew, the
  // verification cache; neither is asked again here.
  std::optional<oci::ImageReference> pinned = std::move(probe.pinned);
  if (!pinned) {
    std::string digest = reference.digest();
    if (digest.empty()) {
      // Not in the tag cache when the probe asked: resolved now.
      const std::string tag_key = reference.repository().Name() + ":" + reference.tag();
      const auto start = std::chrono::steady_clock::now();
      auto resolved = verifier_->ResolveDigest(reference, deadline);
      // A tag that cannot be resolved ends the verification: it counts in
      // signet_provider_verifications_total like the same failure by digest.
      if (!resolved.ok()) {
        if (metrics_) metrics_->Verified(&resolved.error(), SecondsSince(start));
        Outcome failure = FailureOutcome(resolved.error());
        if (resolved.error().code() != ErrorCode::kTimeout) {
          tags_.Put(tag_key, TagEntry{false, "", failure}, options_.negative_cache_ttl);
        }
        return failure;
      }
      if (!oci::IsValidSha256Digest(*resolved)) {
        const Error invalid(ErrorCode::kRegistry,
                            "registry returned an invalid digest for " + reference.Name());
        if (metrics_) metrics_->Verified(&invalid, SecondsSince(start));
        return FailureOutcome(invalid);
      }
      digest = *resolved;
      tags_.Put(tag_key, TagEntry{true, digest, {}}, options_.tag_cache_ttl);
    }
    auto resolved_pin = reference.Pinned(digest);
    if (!resolved_pin.ok()) return FailureOutcome(resolved_pin.error());
    pinned = std::move(resolved_pin).value();
    // Now in the tag cache: a waiter past its deadline may grace this digest.
    if (options_.last_known_good_grace.count() > 0 && options_.tag_cache_ttl.count() > 0) {
      std::lock_guard<std::mutex> lock(flight.mu);
      if (!flight.pinned) flight.pinned = pinned;
    }
  }
  const std::string digest_reference = pinned->Name();
  // Taken before verifying: a key that changes meanwhile makes this result
  // unreachable for lookups under the new keys.
  const std::string trust_version = verifier_->TrustVersion();
  const std::string result_key = ResultKey(digest_reference, policy.name, trust_version);
  // The flight's one verification-cache lookup: the probe's miss when it
  // asked for this very entry, else a lookup now (a digest the probe did not
  // know, or the trust version changed since).
  if (result_key == probe.result_key) {
    if (metrics_) metrics_->CacheLookup("verification", ProviderMetrics::CacheResult::kMiss);
  } else {
    auto cached_result = results_.Find(result_key);
    if (metrics_) {
      metrics_->CacheLookup("verification", CacheLookupResult(cached_result.has_value()));
    }
    if (cached_result) {
      if (cached_result->value.valid) {
        MaybeRefresh(result_key, *pinned, policy, cached_result->expires);
      }
      return cached_result->value;
    }
  }
  const std::string subject =
      options_.shared_cache ? SharedSubject(digest_reference, policy, trust_version) : "";
  if (options_.shared_cache) {
    if (auto shared = LookupShared(result_key, subject, digest_reference)) return *shared;
  }

  const auto start = std::chrono::steady_clock::now();
  const Status status = VerifyUnder(*pinned, origin, policy, trust_version, deadline);
  if (metrics_) metrics_->Verified(status.ok() ? nullptr : &status.error(), SecondsSince(start));
  if (status.ok()) {
    Outcome outcome;
    outcome.valid = true;
    outcome.digest_reference = digest_reference;
    results_.Put(result_key, outcome, options_.cache_ttl);
    Remember(result_key, digest_reference, options_.clock() + options_.cache_ttl);
    share = ShareOf(subject, outcome, nullptr, options_.cache_ttl);
    return outcome;
  }
  ForgetUnless(result_key, status.error());
  if (auto graced = Grace(digest_reference, policy, status.error())) return *graced;
  Outcome failure = FailureOutcome(status.error());
  if (status.error().code() != ErrorCode::kTimeout) {
    results_.Put(result_key, failure, options_.negative_cache_ttl);
    share = ShareOf(subject, failure, &status.error(), options_.negative_cache_ttl);
  }
  return failure;
}

std::optional<VerificationService::Outcome> VerificationService::LookupShared(
    const std::string& result_key, const std::string& subject,
    const std::string& digest_reference) {
  auto found = options_.shared_cache->Get(subject);
  if (!found) return std::nullopt;
  Outcome outcome;
  outcome.valid = found->verdict.valid;
  if (outcome.valid) {
    outcome.digest_reference = digest_reference;
  } else {
    outcome.reason = found->verdict.reason;
    outcome.detail = found->verdict.detail;
  }
  // Never longer here than this replica would keep its own verdict.
  const auto ttl =
      std::min(found->ttl, outcome.valid ? options_.cache_ttl : options_.negative_cache_ttl);
  results_.Put(result_key, outcome, ttl);
  if (outcome.valid) {
    Remember(result_key, digest_reference, options_.clock() + ttl);
  } else {
    // A verdict against the image (never "registry unavailable", which is
    // not shared): an earlier valid verdict no longer holds.
    remembered_.Erase(result_key);
  }
  outcome.cached = true;
  return outcome;
}

bool VerificationService::RenewFromShared(const std::string& result_key,
                                          const std::string& digest_reference,
                                          const policy::PolicyConfig& policy,
                                          const std::string& trust_version) {
  if (!options_.shared_cache ||
      ResultKey(digest_reference, policy.name, trust_version) != result_key) {
    return false;
  }
  auto found = options_.shared_cache->Get(SharedSubject(digest_reference, policy, trust_version));
  // Only a verdict fresher than the one being refreshed: another replica
  // verified the image again (or first) since.
  if (!found || !found->verdict.valid || found->ttl <= options_.refresh_ahead) return false;
  Outcome outcome;
  outcome.valid = true;
  outcome.digest_reference = digest_reference;
  const auto ttl = std::min(found->ttl, options_.cache_ttl);
  results_.Put(result_key, outcome, ttl);
  Remember(result_key, digest_reference, options_.clock() + ttl);
  return true;
}

std::optional<VerificationService::PendingShare> VerificationService::ShareOf(
    const std::string& subject, const Outcome& outcome, const Error* error,
    std::chrono::milliseconds ttl) const {
  if (!options_.shared_cache || ttl.count() <= 0) return std::nullopt;
  if (error != nullptr && (error->code() == ErrorCode::kTimeout || IsRegistryUnavailable(*error))) {
    return std::nullopt;
  }
  PendingShare share;
  share.subject = subject;
  share.verdict.valid = outcome.valid;
  share.verdict.reason = outcome.reason;
  share.verdict.detail = outcome.detail;
  share.ttl = ttl;
  return share;
}

void VerificationService::MaybeRefresh(const std::string& result_key,
                                       const oci::ImageReference& pinned,
                                       const policy::PolicyConfig& policy,
                                       std::chrono::steady_clock::time_point expires) {
  if (options_.refresh_ahead.count() <= 0) return;
  if (options_.clock() < expires - options_.refresh_ahead) return;
  {
    std::lock_guard<std::mutex> lock(refreshing_mu_);
    if (!refreshing_.insert(result_key).second) return;  // one refresh at a time
  }
  pool_.Submit([this, result_key, pinned, policy] { Refresh(result_key, pinned, policy); });
}

void VerificationService::Refresh(const std::string& result_key, const oci::ImageReference& pinned,
                                  const policy::PolicyConfig& policy) {
  const std::string digest_reference = pinned.Name();
  const std::string trust_version = verifier_->TrustVersion();
  if (RenewFromShared(result_key, digest_reference, policy, trust_version)) {
    if (metrics_) metrics_->Refreshed("shared");
    std::lock_guard<std::mutex> lock(refreshing_mu_);
    refreshing_.erase(result_key);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  // kRequested: the refresh checks again that the digest exists.
  const Status status = VerifyUnder(pinned, DigestOrigin::kRequested, policy, trust_version,
                                    std::chrono::steady_clock::now() + options_.deadline);
  if (metrics_) metrics_->Verified(status.ok() ? nullptr : &status.error(), SecondsSince(start));
  std::string result = "valid";
  // Under other keys the old entry is unreachable anyway: store nothing.
  if (ResultKey(digest_reference, policy.name, trust_version) != result_key) {
    result = "keys_changed";
  } else if (status.ok()) {
    Outcome outcome;
    outcome.valid = true;
    outcome.digest_reference = digest_reference;
    results_.Put(result_key, outcome, options_.cache_ttl);
    Remember(result_key, digest_reference, options_.clock() + options_.cache_ttl);
    Share(ShareOf(SharedSubject(digest_reference, policy, trust_version), outcome, nullptr,
                  options_.cache_ttl));
  } else if (IsRegistryUnavailable(status.error())) {
    result = "unavailable";  // the valid entry expires when it was due to
  } else {
    result = "invalid";
    ForgetUnless(result_key, status.error());
    // Erase first: with a zero negative TTL, Put stores nothing.
    results_.Erase(result_key);
    const Outcome failure = FailureOutcome(status.error());
    results_.Put(result_key, failure, options_.negative_cache_ttl);
    Share(ShareOf(SharedSubject(digest_reference, policy, trust_version), failure, &status.error(),
                  options_.negative_cache_ttl));
  }
  if (metrics_) metrics_->Refreshed(result);
  std::lock_guard<std::mutex> lock(refreshing_mu_);
  refreshing_.erase(result_key);
}

void VerificationService::Remember(const std::string& result_key,
                                   const std::string& digest_reference,
                                   std::chrono::steady_clock::time_point result_expires) {
  if (options_.last_known_good_grace.count() <= 0) return;
  const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(
      result_expires + options_.last_known_good_grace - options_.clock());
  remembered_.Put(result_key, digest_reference, ttl);
}

void VerificationService::ForgetUnless(const std::string& result_key, const Error& error) {
  if (!IsRegistryUnavailable(error)) remembered_.Erase(result_key);
}

std::optional<VerificationService::Outcome> VerificationService::Grace(
    const std::string& digest_reference, const policy::PolicyConfig& policy, const Error& error) {
  if (options_.last_known_good_grace.count() <= 0 || !IsRegistryUnavailable(error)) {
    return std::nullopt;
  }
  // The trust version now: a verdict of other keys is not found.
  auto remembered =
      remembered_.Find(ResultKey(digest_reference, policy.name, verifier_->TrustVersion()));
  if (!remembered || remembered->value != digest_reference) return std::nullopt;
  Outcome outcome;
  outcome.valid = true;
  outcome.graced = true;
  outcome.digest_reference = digest_reference;
  outcome.detail = "registry unavailable (" + error.message() +
                   "); answered from this image's earlier verification under the same keys "
                   "(last-known-good grace)";
  if (metrics_) metrics_->GraceAnswer();
  const auto left =
      std::chrono::duration_cast<std::chrono::seconds>(remembered->expires - options_.clock());
  log::LogEvent(spdlog::level::warn, {{"event", "grace_answer"},
                                      {"image", digest_reference},
                                      {"policy", policy.name},
                                      {"error", error.message()},
                                      {"grace_left_seconds", left.count()}});
  return outcome;
}

void VerificationService::RunFlight(const std::string& flight_key, std::shared_ptr<Flight> flight,
                                    const oci::ImageReference& reference,
                                    const policy::PolicyConfig& policy, Probe& probe) {
  Deadline deadline;
  {
    std::lock_guard<std::mutex> lock(flight->mu);
    deadline = flight->latest_deadline;
  }
  Outcome outcome;
  std::optional<PendingShare> share;
  if (std::chrono::steady_clock::now() >= deadline) {
    // Every waiter has given up; do not spend a worker on it.
    outcome.reason = std::string(kTimedOutReason);
    outcome.detail = "verification was still queued when every waiting request's deadline passed";
    if (metrics_) {
      const Error timed_out(ErrorCode::kTimeout, outcome.detail);
      metrics_->Verified(&timed_out, 0.0);
    }
  } else {
    outcome = Compute(reference, policy, probe, *flight, deadline, share);
  }
  {
    std::lock_guard<std::mutex> lock(flights_mu_);
    flights_.erase(flight_key);
  }
  std::vector<std::function<void(const Outcome&)>> subscribers;
  {
    std::lock_guard<std::mutex> lock(flight->mu);
    flight->done = true;
    flight->outcome = outcome;
    subscribers.swap(flight->subscribers);
  }
  for (auto& subscriber : subscribers) subscriber(outcome);
  Share(std::move(share));
}

void VerificationService::Share(std::optional<PendingShare> share) {
  if (share) options_.shared_cache->Put(share->subject, share->verdict, share->ttl);
}

std::shared_ptr<VerificationService::Flight> VerificationService::Join(
    const std::string& flight_key, const oci::ImageReference& reference,
    const policy::PolicyConfig& policy, Probe&& probe, Deadline deadline,
    std::function<void(const Outcome&)> on_done) {
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard<std::mutex> lock(flights_mu_);
    auto it = flights_.find(flight_key);
    if (it == flights_.end()) {
      flight = std::make_shared<Flight>();
      flights_.emplace(flight_key, flight);
      leader = true;
    } else {
      flight = it->second;
    }
  }
  if (!leader && metrics_) metrics_->CoalescedWait();
  std::optional<Outcome> finished;
  {
    std::lock_guard<std::mutex> lock(flight->mu);
    flight->latest_deadline = std::max(flight->latest_deadline, deadline);
    if (options_.last_known_good_grace.count() > 0 && !flight->pinned && probe.pinned) {
      flight->pinned = probe.pinned;
    }
    if (flight->done) {
      finished = flight->outcome;
    } else {
      flight->subscribers.push_back(std::move(on_done));
    }
  }
  if (finished) {
    on_done(*finished);
    return flight;
  }
  if (leader) {
    pool_.Submit([this, flight_key, flight, reference, policy, probe = std::move(probe)]() mutable {
      RunFlight(flight_key, flight, reference, policy, probe);
    });
  }
  return flight;
}

std::vector<KeyDecision> VerificationService::Decide(const std::vector<std::string>& keys) {
  return Decide(keys, std::chrono::steady_clock::now() + options_.deadline);
}

std::shared_ptr<const VerificationService::PlannedKey> VerificationService::PlanKey(
    const std::string& key, KeyDecision& decision) {
  if (auto kept = planned_.Get(key)) return std::move(*kept);
  auto reference = oci::ImageReference::Parse(key);
  if (!reference.ok()) {
    decision.reason = "invalid image reference";
    decision.detail = reference.error().message();
    return nullptr;
  }
  auto policy = policies_.Find(reference->repository());
  if (!policy.ok()) {
    decision.reason = policy.error().message();
    decision.detail = decision.reason;
    return nullptr;
  }
  auto planned = std::make_shared<PlannedKey>();
  planned->policy = *policy;
  planned->flight_key = reference->Name() + "\n" + (*policy)->name;
  if (reference->has_digest()) {
    auto pinned = reference->Pinned(reference->digest());
    if (pinned.ok()) {
      planned->pinned_name = pinned->Name();
      planned->pinned = std::move(pinned).value();
    }
  }
  planned->reference = std::move(reference).value();
  // Only a key that pins cleanly (or names a tag) is kept; anything else is
  // planned again each time, and its verification says why.
  if (planned->pinned || !planned->reference.has_digest()) {
    planned_.Put(key, planned, kPlannedKeyTtl);
  }
  return planned;
}

std::vector<VerificationService::Group> VerificationService::Plan(
    const std::vector<std::string>& keys, std::vector<KeyDecision>& decisions) {
  decisions.assign(keys.size(), KeyDecision{});
  std::vector<Group> groups;
  // Flight key -> group; the views point into the groups' PlannedKeys.
  std::unordered_map<std::string_view, std::size_t> group_of;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    KeyDecision& decision = decisions[i];
    decision.key = keys[i];
    auto planned = PlanKey(keys[i], decision);
    if (!planned) continue;
    decision.key_has_digest = planned->reference.has_digest();
    decision.policy = planned->policy->name;
    auto [it, inserted] = group_of.emplace(planned->flight_key, groups.size());
    if (inserted) {
      Group group;
      group.planned = std::move(planned);
      groups.push_back(std::move(group));
    }
    groups[it->second].indices.push_back(i);
  }
  return groups;
}

void VerificationService::Fill(std::vector<Group>& groups, std::vector<KeyDecision>& decisions) {
  for (auto& group : groups) {
    for (std::size_t n = 0; n < group.indices.size(); ++n) {
      KeyDecision& decision = decisions[group.indices[n]];
      if (!group.outcome) {
        decision.reason = std::string(kTimedOutReason);
        decision.detail = "unfinished at the request deadline";
        continue;
      }
      Outcome& outcome = *group.outcome;
      decision.valid = outcome.valid;
      decision.cached = outcome.cached;
      decision.graced = outcome.graced;
      if (n + 1 < group.indices.size()) {
        decision.digest_reference = outcome.digest_reference;
        decision.reason = outcome.reason;
        decision.detail = outcome.detail;
      } else {  // the group's last key: the outcome is not read again
        decision.digest_reference = std::move(outcome.digest_reference);
        decision.reason = std::move(outcome.reason);
        decision.detail = std::move(outcome.detail);
      }
    }
  }
}

std::optional<std::vector<KeyDecision>> VerificationService::DecideCached(
    const std::vector<std::string>& keys) {
  std::vector<KeyDecision> decisions;
  std::vector<Group> groups = Plan(keys, decisions);
  std::vector<Probe> probes;
  probes.reserve(groups.size());
  const std::string trust_version = groups.empty() ? std::string() : verifier_->TrustVersion();
  for (auto& group : groups) {
    probes.push_back(ProbeCaches(*group.planned, trust_version));
    // One miss: the request needs a flight; nothing has been counted yet.
    if (!probes.back().outcome) return std::nullopt;
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    Account(probes[g], groups[g].policy());
    groups[g].outcome = std::move(probes[g].outcome);
  }
  Fill(groups, decisions);
  return decisions;
}

std::vector<KeyDecision> VerificationService::Decide(const std::vector<std::string>& keys,
                                                     Deadline deadline) {
  std::vector<KeyDecision> decisions;
  std::vector<Group> groups = Plan(keys, decisions);
  const std::string trust_version = groups.empty() ? std::string() : verifier_->TrustVersion();
  // Each group's one look at the caches; a miss hands what it learned to
  // the flight, which asks neither cache again.
  std::vector<Probe> misses(groups.size());  // by group; kept for its flight
  for (std::size_t g = 0; g < groups.size(); ++g) {
    Probe probe = ProbeCaches(*groups[g].planned, trust_version);
    Account(probe, groups[g].policy());
    if (probe.outcome) {
      groups[g].outcome = std::move(probe.outcome);
    } else {
      misses[g] = std::move(probe);
    }
  }

  struct Waiting {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<Outcome>> outcomes;
    std::size_t remaining = 0;
  };
  auto waiting = std::make_shared<Waiting>();
  waiting->outcomes.resize(groups.size());
  // In the order of the flight keys, as before.
  std::vector<std::pair<const std::string*, std::size_t>> to_join;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (!groups[g].outcome) to_join.emplace_back(&groups[g].flight_key(), g);
  }
  std::sort(to_join.begin(), to_join.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  waiting->remaining = to_join.size();
  // Kept for the grace answer at the deadline only.
  const bool grace = options_.last_known_good_grace.count() > 0;
  std::vector<std::shared_ptr<Flight>> flights(grace ? groups.size() : 0);
  for (const auto& [flight_key, index] : to_join) {
    const std::size_t slot = index;
    auto on_done = [waiting, slot](const Outcome& outcome) {
      {
        std::lock_guard<std::mutex> lock(waiting->mu);
        waiting->outcomes[slot] = outcome;
        --waiting->remaining;
      }
      waiting->cv.notify_all();
    };
    auto flight = Join(*flight_key, groups[index].reference(), groups[index].policy(),
                       std::move(misses[index]), deadline, std::move(on_done));
    if (grace) flights[slot] = std::move(flight);
  }
  {
    std::unique_lock<std::mutex> lock(waiting->mu);
    waiting->cv.wait_until(lock, deadline, [&] { return waiting->remaining == 0; });
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (!groups[g].outcome && waiting->outcomes[g]) groups[g].outcome = waiting->outcomes[g];
    }
  }
  // Unfinished at the deadline: the registry is slow; a known digest may be
  // answered from its last-known-good verdict.
  // The digest is the one this key's flight knows (no cache is asked
  // again): the key's own, or its tag's in the tag cache.
  for (std::size_t g = 0; g < groups.size() && grace; ++g) {
    Group& group = groups[g];
    if (group.outcome || !flights[g]) continue;
    std::optional<oci::ImageReference> pinned;
    {
      std::lock_guard<std::mutex> lock(flights[g]->mu);
      pinned = flights[g]->pinned;
    }
    if (!pinned) continue;
    group.outcome =
        Grace(pinned->Name(), group.policy(),
              Error(ErrorCode::kTimeout, "verification unfinished at the request deadline"));
  }
  Fill(groups, decisions);
  return decisions;
}

}  // namespace signet::provider
