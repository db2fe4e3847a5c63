// The operational endpoints every signet server exposes.
#pragma once

#include <functional>

#include "signet/result.h"
#include "signet/server/metrics.h"
#include "signet/server/router.h"

namespace signet::server {

// OK when ready, else an error whose message says why not.
using ReadinessProbe = std::function<Status()>;

// Registers on `router`:
//   GET /healthz  -> 200 {"status":"ok"} while the process serves at all;
//   GET /readyz   -> 200 {"status":"ready"} when ready() is true,
//                    else 503 {"status":"not ready"} (with a probe: plus
//                    "reason", the probe's error message, when it has one);
//   GET /metrics  -> 200, metrics.Render() in Prometheus text format.
// `metrics` must outlive the router; `ready` (or `probe`) is called on handler
// threads and must be thread-safe.
void AddStandardRoutes(Router& router, MetricsRegistry& metrics, std::function<bool()> ready);
// The same, with /readyz answering 503 {"status":"not ready","reason":"..."}
// carrying the probe's error message when it is not ready.
void AddStandardRoutes(Router& router, MetricsRegistry& metrics, ReadinessProbe probe);

}  // namespace signet::server
