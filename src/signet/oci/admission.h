// Per-host admission control for registry requests: a concurrency limit and
// a token bucket for each registry host, shared by every client that talks to
// it (RegistryRouter's clients share one RegistryAdmission through
// TransportOptions::admission).
//
// - Before each exchange (each attempt, redirect and token request) the
//   transport asks Admit() for the request's authority ("host:port"). A
//   request first waits for one of the host's max_concurrent slots, then for
//   a token. Waiting requests are admitted earliest deadline first (those
//   without a deadline last, equal deadlines in arrival order): a caller
//   that gives all requests of one piece of work the same deadline (as the
//   provider does for a verification) gets its later requests admitted
//   before the first requests of work that started after it. Waits end at
//   the request's deadline: when the bucket cannot give a token before the
//   deadline the request fails at once, and a request still waiting for a
//   slot at its deadline fails then; both with ErrorCode::kTimeout and a
//   reason that names the host and the limit.
// - A 429 from a host pauses its bucket for the answer's Retry-After, at
//   most max_pause (Throttled()): no request to that host is admitted
//   before then, and the bucket starts empty, refilling at its rate. The
//   429 also halves the host's rate (additive increase, multiplicative
//   decrease, as TCP does with its window): a registry that throttles below
//   the configured rate is not asked again at the rate it refused. 429s
//   within one second of a decrease are answers to requests sent before it
//   and do not halve again; the rate never drops below one request per
//   second (or the configured rate, when lower), and it grows back towards
//   the configured rate by a fiftieth of it per second once the pause is
//   over (from half the rate, 25 s). Longer
//   waits are each throttled request's own (the transport fails it at once
//   when its deadline cannot cover them), so that one repository's long
//   Retry-After does not stop every other request to the host.
// - Limits come from AdmissionOptions: defaults for every host, and limits
//   per host (a host named without a port matches it on any port).
//
// TokenBucket is the pure arithmetic, with the time passed in, so that it is
// tested without a clock. RegistryAdmission takes its clock and its sleep
// as functions for the same reason.
//
// Thread-safety: RegistryAdmission's methods may be called concurrently;
// TokenBucket is not synchronized (RegistryAdmission locks around it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "signet/oci/deadline.h"
#include "signet/result.h"

namespace signet::oci {

// Taken as given: the configuration validates them (policy::CheckRegistryLimits).
struct AdmissionLimits {
  // Exchanges with the host at the same time.
  int max_concurrent = 16;
  // Sustained requests per second; 0 = no rate limit.
  double requests_per_second = 100;
  // Requests that may go at once after a quiet spell (the bucket's size).
  double burst = 100;
};

class TokenBucket {
 public:
  using TimePoint = DeadlineClock::time_point;

  // Starts full at `now`, at the full rate. A rate of 0 never limits (only
  // Pause does, and SlowDown does nothing).
  TokenBucket(double requests_per_second, double burst, TimePoint now);

  // Takes one token if one is available by `latest` (the caller then waits
  // until the returned time, which may be `now`); takes nothing and returns
  // nullopt otherwise.
  std::optional<TimePoint> Reserve(TimePoint now, TimePoint latest);
  // No token before `until`; from then the bucket refills from empty.
  // Tokens reserved before keep their times (they are not given twice).
  void Pause(TimePoint now, TimePoint until);
  TimePoint paused_until() const { return paused_until_; }
  // The host throttled us at `now`: halve the sustained rate (not below
  // min(1/s, the configured rate)), unless it was halved less than a second
  // before. The rate grows back linearly from the end of the current pause.
  // Returns whether the rate was lowered.
  bool SlowDown(TimePoint now);
  // The sustained rate at `now` (requests/s), at most the configured one.
  double RateAt(TimePoint now) const;
  // The configured sustained rate.
  double configured_rate() const { return ceiling_; }
  // Whether the bucket is full and unpaused at `now`: it holds nothing that
  // a fresh bucket would not.
  bool Idle(TimePoint now) const;

 private:
  void Refill(TimePoint now);
  // Tokens the rate gives between `from` and `to` (the integral of RateAt).
  double Earned(TimePoint from, TimePoint to) const;

  double ceiling_;    // configured rate
  double lowered_;    // the rate after the last SlowDown (ceiling_: none)
  TimePoint grow_from_{};  // where the lowered rate starts growing back
  TimePoint slowed_at_{};  // the last SlowDown that lowered the rate
  bool slowed_ = false;
  double burst_;
  double tokens_;  // negative: reserved ahead
  TimePoint stamp_;
  TimePoint paused_until_{};
};

// What admission control reports, for metrics. Each callback may be empty.
struct AdmissionObserver {
  // A request waited `seconds` (> 0) for a slot or a token before it went.
  std::function<void(const std::string& host, double seconds)> waited;
  // A request was refused: it could not be admitted before its deadline.
  std::function<void(const std::string& host)> rejected;
  // The host answered 429.
  std::function<void(const std::string& host)> throttled;
  // A request joined an identical one in flight instead of being sent.
  std::function<void(const std::string& host)> coalesced;
  // A 429 lowered the host's sustained rate to `rate` (requests/s; the
  // configured one is `configured`).
  std::function<void(const std::string& host, double rate, double configured)> rate_lowered;
};

struct AdmissionOptions {
  AdmissionLimits defaults;
  // Limits of particular hosts: "host" (any port) or "host:port".
  std::map<std::string, AdmissionLimits> hosts;
  AdmissionObserver observer;
  // At most this many idle hosts are remembered; beyond it idle ones are
  // forgotten (hosts with requests in flight or a pause are kept).
  std::size_t max_hosts = 4096;
  // Longest pause of a host after a 429.
  std::chrono::milliseconds max_pause{1000};
  // Injected time (tests); default steady_clock and sleep_until.
  std::function<DeadlineClock::time_point()> now;
  std::function<void(DeadlineClock::time_point)> sleep_until;
};

class RegistryAdmission {
 public:
  explicit RegistryAdmission(AdmissionOptions options);
  ~RegistryAdmission();
  RegistryAdmission(const RegistryAdmission&) = delete;
  RegistryAdmission& operator=(const RegistryAdmission&) = delete;

  // Holds one of a host's slots until destroyed.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    ~Permit();

   private:
    friend class RegistryAdmission;
    struct Host;
    explicit Permit(std::shared_ptr<Host> host) : host_(std::move(host)) {}
    void Release();
    std::shared_ptr<Host> host_;
  };

  // Waits for a slot and a token of `authority` ("host:port"), within
  // `deadline` (nullopt: as long as it takes), after the waiting requests
  // with earlier deadlines. kTimeout when that is not possible; the reason
  // names the host and what was exhausted.
  Result<Permit> Admit(const std::string& authority, Deadline deadline);
  // `authority` answered 429 asking for `retry_after`: pause its bucket.
  void Throttled(const std::string& authority, std::chrono::milliseconds retry_after);
  // A request to `authority` joined an identical one in flight.
  void Coalesced(const std::string& authority);

  // The limits that apply to `authority`.
  AdmissionLimits LimitsFor(const std::string& authority) const;
  // Requests of `authority` waiting for a slot now (tests, diagnostics).
  int Waiting(const std::string& authority);

 private:
  std::shared_ptr<Permit::Host> HostFor(const std::string& authority);
  DeadlineClock::time_point Now() const;

  AdmissionOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Permit::Host>> hosts_;
};

}  // namespace signet::oci
