// Operation deadlines for registry calls, passed explicitly.
//
// A Deadline is the latest moment by which a registry call must finish, or
// nullopt for none (only the client's own connect and request timeouts then
// apply). Every oci::Registry method takes one. The transport shrinks each
// request's connect and transfer timeouts to the time that is left, stops
// retrying when a wait would cross the deadline, and fails a request that
// would start after it with ErrorCode::kTimeout without touching the
// network. Callers that fan work out to other threads hand the same value to
// each call; there is no per-thread deadline.
//
// Plain values; safe to use from any thread.
#pragma once

#include <chrono>
#include <optional>

namespace signet::oci {

using DeadlineClock = std::chrono::steady_clock;
using Deadline = std::optional<DeadlineClock::time_point>;

}  // namespace signet::oci
