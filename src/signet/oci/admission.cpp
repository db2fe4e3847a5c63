#include "signet/oci/admission.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

namespace signet::oci {
namespace {

using TimePoint = DeadlineClock::time_point;

double Seconds(DeadlineClock::duration d) { return std::chrono::duration<double>(d).count(); }

DeadlineClock::duration FromSeconds(double seconds) {
  return std::chrono::duration_cast<DeadlineClock::duration>(
      std::chrono::duration<double>(seconds));
}

std::string Number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// The host of "host:port" ("[v6]:port" keeps its brackets).
std::string HostOf(const std::string& authority) {
  const std::size_t colon = authority.rfind(':');
  if (colon == std::string::npos || authority.find(']', colon) != std::string::npos) {
    return authority;
  }
  return authority.substr(0, colon);
}

}  // namespace

// ---------------------------------------------------------------------------
// TokenBucket

namespace {
// 429s this soon after a decrease answer requests sent before it.
constexpr auto kSlowDownInterval = std::chrono::seconds(1);
// A lowered rate grows back by this share of the configured rate per second.
constexpr double kGrowthPerSecond = 1.0 / 50;
}  // namespace

TokenBucket::TokenBucket(double requests_per_second, double burst, TimePoint now)
    : ceiling_(requests_per_second),
      lowered_(requests_per_second),
      burst_(std::max(1.0, burst)),
      tokens_(burst_),
      stamp_(now) {}

double TokenBucket::RateAt(TimePoint now) const {
  if (!slowed_) return ceiling_;
  if (now <= grow_from_) return lowered_;
  return std::min(ceiling_, lowered_ + Seconds(now - grow_from_) * ceiling_ * kGrowthPerSecond);
}

double TokenBucket::Earned(TimePoint from, TimePoint to) const {
  if (to <= from || ceiling_ <= 0) return 0;
  if (!slowed_) return Seconds(to - from) * ceiling_;
  // Flat at the lowered rate until grow_from_, then a linear ramp up to
  // the configured rate (reached at `full`), then flat again.
  const TimePoint full =
      grow_from_ + FromSeconds((ceiling_ - lowered_) / (ceiling_ * kGrowthPerSecond));
  double total = 0;
  if (from < grow_from_) total += Seconds(std::min(to, grow_from_) - from) * lowered_;
  const TimePoint lo = std::max(from, grow_from_);
  const TimePoint hi = std::min(to, full);
  if (lo < hi) total += (RateAt(lo) + RateAt(hi)) / 2 * Seconds(hi - lo);
  const TimePoint after = std::max(from, full);
  if (after < to) total += Seconds(to - after) * ceiling_;
  return total;
}

void TokenBucket::Refill(TimePoint now) {
  if (now <= stamp_) return;
  tokens_ = std::min(burst_, tokens_ + Earned(stamp_, now));
  stamp_ = now;
  if (slowed_ && RateAt(now) >= ceiling_) slowed_ = false;
}

std::optional<TimePoint> TokenBucket::Reserve(TimePoint now, TimePoint latest) {
  Refill(now);
  if (ceiling_ <= 0) {
    const TimePoint at = std::max(now, paused_until_);
    if (at > latest) return std::nullopt;
    return at;
  }
  // The time at which the bucket holds a whole token for this request (at
  // today's rate: a rate growing back only brings it earlier).
  const double missing = 1.0 - tokens_;
  TimePoint at = missing <= 0 ? now : stamp_ + FromSeconds(missing / RateAt(stamp_));
  at = std::max(at, std::max(now, paused_until_));
  if (at > latest) return std::nullopt;
  tokens_ -= 1.0;
  return at;
}

void TokenBucket::Pause(TimePoint now, TimePoint until) {
  Refill(now);
  if (until <= now) return;
  paused_until_ = std::max(paused_until_, until);
  if (ceiling_ > 0) {
    // Empty at `until`, one token there: what is reserved already stays
    // reserved (tokens_ may be lower still).
    tokens_ = std::min(tokens_, 1.0 - Earned(stamp_, paused_until_));
  }
}

bool TokenBucket::SlowDown(TimePoint now) {
  if (ceiling_ <= 0) return false;
  if (slowed_ && now < slowed_at_ + kSlowDownInterval) return false;
  Refill(now);
  const double current = RateAt(now);
  const double next = std::max(std::min(ceiling_, 1.0), current / 2);
  if (next >= current) return false;
  lowered_ = next;
  slowed_ = true;
  slowed_at_ = now;
  grow_from_ = now + kSlowDownInterval;
  return true;
}

bool TokenBucket::Idle(TimePoint now) const {
  if (paused_until_ > now) return false;
  if (ceiling_ <= 0) return true;
  // A lowered rate is something a fresh bucket would not know.
  if (RateAt(now) < ceiling_) return false;
  return tokens_ + Earned(stamp_, std::max(now, stamp_)) >= burst_;
}

// ---------------------------------------------------------------------------
// RegistryAdmission

struct RegistryAdmission::Permit::Host {
  Host(std::string authority, AdmissionLimits limits, TimePoint now)
      : authority(std::move(authority)),
        limits(limits),
        bucket(limits.requests_per_second, limits.burst, now) {}

  const std::string authority;
  const AdmissionLimits limits;
  std::mutex mutex;
  std::condition_variable slot_freed;
  int active = 0;
  int waiting = 0;
  // Requests not yet admitted, in the order they are admitted: earliest
  // deadline first (none: last), then first come.
  std::set<std::pair<TimePoint, std::uint64_t>> queue;
  std::uint64_t next_ticket = 0;
  TokenBucket bucket;
};

namespace {
// "50 requests/s", or "25 requests/s, lowered from 50 after the registry
// answered 429".
std::string RateText(const TokenBucket& bucket, TimePoint now) {
  const double rate = bucket.RateAt(now);
  const double configured = bucket.configured_rate();
  if (rate >= configured) return Number(configured) + " requests/s";
  std::ostringstream out;
  out.precision(3);
  out << rate << " requests/s, lowered from " << Number(configured)
      << " after the registry answered 429";
  return out.str();
}
}  // namespace

RegistryAdmission::Permit::Permit(Permit&& other) noexcept : host_(std::move(other.host_)) {}

RegistryAdmission::Permit& RegistryAdmission::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Release();
    host_ = std::move(other.host_);
  }
  return *this;
}

RegistryAdmission::Permit::~Permit() { Release(); }

void RegistryAdmission::Permit::Release() {
  if (!host_) return;
  {
    std::lock_guard<std::mutex> lock(host_->mutex);
    --host_->active;
  }
  // Every waiter checks whether it is now first in line.
  host_->slot_freed.notify_all();
  host_.reset();
}

RegistryAdmission::RegistryAdmission(AdmissionOptions options) : options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return DeadlineClock::now(); };
  if (!options_.sleep_until) {
    options_.sleep_until = [](TimePoint until) { std::this_thread::sleep_until(until); };
  }
}

RegistryAdmission::~RegistryAdmission() = default;

TimePoint RegistryAdmission::Now() const { return options_.now(); }

AdmissionLimits RegistryAdmission::LimitsFor(const std::string& authority) const {
  if (auto it = options_.hosts.find(authority); it != options_.hosts.end()) return it->second;
  if (auto it = options_.hosts.find(HostOf(authority)); it != options_.hosts.end()) {
    return it->second;
  }
  return options_.defaults;
}

std::shared_ptr<RegistryAdmission::Permit::Host> RegistryAdmission::HostFor(
    const std::string& authority) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = hosts_.find(authority); it != hosts_.end()) return it->second;
  const TimePoint now = Now();
  if (hosts_.size() >= options_.max_hosts) {
    // Forget hosts nobody holds that a fresh entry would equal.
    for (auto it = hosts_.begin(); it != hosts_.end();) {
      bool idle = false;
      if (it->second.use_count() == 1) {
        std::lock_guard<std::mutex> host_lock(it->second->mutex);
        idle = it->second->active == 0 && it->second->waiting == 0 && it->second->bucket.Idle(now);
      }
      it = idle ? hosts_.erase(it) : std::next(it);
    }
  }
  auto host = std::make_shared<Permit::Host>(authority, LimitsFor(authority), now);
  hosts_.emplace(authority, host);
  return host;
}

Result<RegistryAdmission::Permit> RegistryAdmission::Admit(const std::string& authority,
                                                           Deadline deadline) {
  std::shared_ptr<Permit::Host> host = HostFor(authority);
  const TimePoint start = Now();
  const TimePoint latest = deadline.value_or(TimePoint::max());
  auto reject = [&](const std::string& why) -> Error {
    if (options_.observer.rejected) options_.observer.rejected(authority);
    return Error(ErrorCode::kTimeout, "registry " + authority + ": " + why);
  };
  TimePoint go;
  bool waited = false;
  {
    std::unique_lock<std::mutex> lock(host->mutex);
    const std::pair<TimePoint, std::uint64_t> ticket{latest, host->next_ticket++};
    host->queue.insert(ticket);
    // Leaves the queue; the next in line may go now.
    auto leave = [&] {
      host->queue.erase(ticket);
      if (!host->queue.empty()) host->slot_freed.notify_all();
    };
    auto my_turn = [&] {
      return host->active < host->limits.max_concurrent && *host->queue.begin() == ticket;
    };
    if (!my_turn()) {
      waited = true;
      ++host->waiting;
      bool admitted = true;
      if (deadline) {
        admitted = host->slot_freed.wait_until(lock, *deadline, my_turn);
      } else {
        host->slot_freed.wait(lock, my_turn);
      }
      --host->waiting;
      if (!admitted) {
        leave();
        return reject("no request slot was free before the deadline (" +
                      std::to_string(host->limits.max_concurrent) +
                      " requests to this host at a time; registries[].maxConcurrentRequests)");
      }
    }
    const TimePoint now = Now();
    std::optional<TimePoint> at = host->bucket.Reserve(now, latest);
    leave();
    if (!at) {
      const bool paused = host->bucket.paused_until() > now;
      const std::string why =
          paused ? "the registry is throttling requests (it answered 429 with Retry-After); "
                   "no request may go to it for another " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          host->bucket.paused_until() - now)
                                          .count()) +
                       " ms, past the deadline"
                 : "the request rate limit (" + RateText(host->bucket, now) + ", burst " +
                       Number(host->limits.burst) +
                       "; registries[].requestsPerSecond) admits no request before the deadline";
      return reject(why);
    }
    ++host->active;
    go = *at;
    waited = waited || go > now;
  }
  Permit permit(host);
  if (go > Now()) options_.sleep_until(go);
  if (waited && options_.observer.waited) {
    options_.observer.waited(authority, Seconds(std::max(go, Now()) - start));
  }
  return permit;
}

void RegistryAdmission::Throttled(const std::string& authority,
                                  std::chrono::milliseconds retry_after) {
  std::shared_ptr<Permit::Host> host = HostFor(authority);
  std::optional<double> lowered_to;
  {
    std::lock_guard<std::mutex> lock(host->mutex);
    const TimePoint now = Now();
    if (host->bucket.SlowDown(now)) lowered_to = host->bucket.RateAt(now);
    host->bucket.Pause(now, now + std::min(retry_after, options_.max_pause));
  }
  if (options_.observer.throttled) options_.observer.throttled(authority);
  if (lowered_to && options_.observer.rate_lowered) {
    options_.observer.rate_lowered(authority, *lowered_to, host->limits.requests_per_second);
  }
}

void RegistryAdmission::Coalesced(const std::string& authority) {
  if (options_.observer.coalesced) options_.observer.coalesced(authority);
}

int RegistryAdmission::Waiting(const std::string& authority) {
  std::shared_ptr<Permit::Host> host = HostFor(authority);
  std::lock_guard<std::mutex> lock(host->mutex);
  return host->waiting;
}

}  // namespace signet::oci
