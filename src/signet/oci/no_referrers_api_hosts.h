// NoReferrersApiHosts: the registry hosts that said, a short while ago, that
// they have no referrers API, so that RegistryClient::ListReferrers reads
// their fallback tag straight away instead of asking again for every image.
//
// The distribution spec (v1.1.1) makes the API a property of the registry:
// one that has it answers every GET /v2/<name>/referrers/<digest> with 200
// and an index, and a 404 means it has none, upon which a client MUST read the
// fallback tag. So skipping the call while a host is remembered changes no
// answer: the fallback tag is what would have been read anyway.
//
// - A host is remembered for `ttl` from its last such answer, so that a
//   registry upgraded to the API is noticed once that has passed; a host
//   that answers with a list is forgotten at once (Forget).
// - Hosts are independent: one host's answer never affects another.
// - At most `max_hosts` are remembered (expired ones are dropped first); a
//   host beyond that is not remembered, which costs only its referrers calls.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "signet/oci/deadline.h"

namespace signet::oci {

struct NoReferrersApiHostsOptions {
  // How long a host's "no referrers API" is believed; 0 = never remembered.
  std::chrono::milliseconds ttl = std::chrono::minutes(10);
  std::size_t max_hosts = 1024;
  // Injected time (tests); default steady_clock.
  std::function<DeadlineClock::time_point()> now;
};

class NoReferrersApiHosts {
 public:
  explicit NoReferrersApiHosts(NoReferrersApiHostsOptions options = {});

  // Whether `host` said it has no referrers API less than ttl ago.
  bool Contains(const std::string& host);
  // `host` said it has no referrers API, now.
  void Remember(const std::string& host);
  // `host` has the API after all (it answered with a list).
  void Forget(const std::string& host);
  // Hosts remembered now, expired ones included until they are dropped.
  std::size_t size() const;

 private:
  DeadlineClock::time_point Now() const;

  NoReferrersApiHostsOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, DeadlineClock::time_point> until_;  // host -> end of its memory
};

}  // namespace signet::oci
