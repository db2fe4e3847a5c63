// Operation deadlines for registry calls.
//
// A DeadlineScope sets, for the calling thread, the latest moment by which
// registry calls must finish. Inside it, RegistryClient shrinks each
// request's connect and transfer timeouts to the time that is left, stops
// retrying when a wait would cross the deadline, and fails a call that starts
// after the deadline with ErrorCode::kTimeout without touching the network.
// Scopes nest: an inner scope can only shorten the outer one's deadline.
//
// The deadline is per thread. Code that hands registry calls to other threads
// re-establishes it there: `DeadlineScope scope(CurrentDeadline());`.
#pragma once

#include <chrono>
#include <optional>

namespace signet::oci {

using DeadlineClock = std::chrono::steady_clock;

// The calling thread's deadline, if a scope is active.
std::optional<DeadlineClock::time_point> CurrentDeadline();

class DeadlineScope {
 public:
  // nullopt keeps the enclosing deadline (if any) unchanged.
  explicit DeadlineScope(std::optional<DeadlineClock::time_point> deadline);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  std::optional<DeadlineClock::time_point> previous_;
};

}  // namespace signet::oci
