#include "signet/server/standard_routes.h"

#include <utility>

namespace signet::server {

void AddStandardRoutes(Router& router, MetricsRegistry& metrics, std::function<bool()> ready) {
  router.Handle("GET", "/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "application/json", "{\"status\":\"ok\"}"};
  });
  router.Handle("GET", "/readyz", [ready = std::move(ready)](const HttpRequest&) {
    if (ready && ready()) return HttpResponse{200, "application/json", "{\"status\":\"ready\"}"};
    return HttpResponse{503, "application/json", "{\"status\":\"not ready\"}"};
  });
  router.Handle("GET", "/metrics", [&metrics](const HttpRequest&) {
    return HttpResponse{200, MetricsRegistry::kContentType, metrics.Render()};
  });
}

}  // namespace signet::server
