#include "signet/oci/no_referrers_api_hosts.h"

#include <iterator>
#include <utility>

namespace signet::oci {

NoReferrersApiHosts::NoReferrersApiHosts(NoReferrersApiHostsOptions options)
    : options_(std::move(options)) {}

DeadlineClock::time_point NoReferrersApiHosts::Now() const {
  return options_.now ? options_.now() : DeadlineClock::now();
}

bool NoReferrersApiHosts::Contains(const std::string& host) {
  const auto now = Now();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = until_.find(host);
  if (it == until_.end()) return false;
  if (now < it->second) return true;
  until_.erase(it);
  return false;
}

void NoReferrersApiHosts::Remember(const std::string& host) {
  if (options_.ttl <= std::chrono::milliseconds::zero() || options_.max_hosts == 0) return;
  const auto now = Now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (until_.size() >= options_.max_hosts && until_.find(host) == until_.end()) {
    for (auto it = until_.begin(); it != until_.end();) {
      it = now < it->second ? std::next(it) : until_.erase(it);
    }
    if (until_.size() >= options_.max_hosts) return;
  }
  until_[host] = now + options_.ttl;
}

void NoReferrersApiHosts::Forget(const std::string& host) {
  std::lock_guard<std::mutex> lock(mutex_);
  until_.erase(host);
}

std::size_t NoReferrersApiHosts::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return until_.size();
}

}  // namespace signet::oci
