#include "signet/oci/deadline.h"

#include <algorithm>

namespace signet::oci {
namespace {

thread_local std::optional<DeadlineClock::time_point> current_deadline;

}  // namespace

std::optional<DeadlineClock::time_point> CurrentDeadline() { return current_deadline; }

DeadlineScope::DeadlineScope(std::optional<DeadlineClock::time_point> deadline)
    : previous_(current_deadline) {
  if (!deadline) return;
  current_deadline = previous_ ? std::min(*previous_, *deadline) : *deadline;
}

DeadlineScope::~DeadlineScope() { current_deadline = previous_; }

}  // namespace signet::oci
