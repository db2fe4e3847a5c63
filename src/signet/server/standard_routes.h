// The operational endpoints every signet server exposes.
#pragma once

#include <functional>

#include "signet/server/metrics.h"
#include "signet/server/router.h"

namespace signet::server {

// Registers on `router`:
//   GET /healthz  -> 200 {"status":"ok"} while the process serves at all;
//   GET /readyz   -> 200 {"status":"ready"} when ready() is true,
//                    else 503 {"status":"not ready"};
//   GET /metrics  -> 200, metrics.Render() in Prometheus text format.
// `metrics` must outlive the router; `ready` is called on handler threads and
// must be thread-safe.
void AddStandardRoutes(Router& router, MetricsRegistry& metrics, std::function<bool()> ready);

}  // namespace signet::server
