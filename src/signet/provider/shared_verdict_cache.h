// A verdict cache that several provider replicas share (cache.redis), beside
// each replica's own in-memory cache, so that an image one replica verified
// is not verified again by the others.
//
// Entries are addressed by a `subject`: the digest reference, the policy
// (its name and a hash of its keys and required annotations) and the trust
// version (a fingerprint of the trusted key material; see
// ImageVerifier::TrustVersion), as VerificationService::SharedSubject spells
// it. A rotated, removed or added key changes the subject, so verdicts made
// under other keys are never found.
//
// The store is untrusted input: an implementation returns a verdict only
// when the stored value is authenticated as written by a replica holding
// the shared secret, parses strictly and names exactly the subject asked
// for; anything else is a miss. It never blocks past the deadline it is
// given, and when the store is down or slow it answers "no verdict" at once
// (the caller then falls back to its own cache and the registry).
//
// Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace signet::provider {

struct SharedVerdict {
  bool valid = false;
  std::string reason;  // user-facing reason when !valid
  std::string detail;  // longer reason for logs when !valid
};

class SharedVerdictCache {
 public:
  virtual ~SharedVerdictCache() = default;

  struct Found {
    SharedVerdict verdict;
    std::chrono::milliseconds ttl{0};  // time the entry has left (> 0)
  };
  // The verdict stored for `subject`, or nullopt (a miss, a malformed
  // value, or the store unavailable or slower than its timeout).
  virtual std::optional<Found> Get(const std::string& subject) = 0;

  // Stores `verdict` for `subject` for `ttl` (best effort: failures are
  // counted, not reported).
  virtual void Put(const std::string& subject, const SharedVerdict& verdict,
                   std::chrono::milliseconds ttl) = 0;
};

}  // namespace signet::provider
