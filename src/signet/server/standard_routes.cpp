#include "signet/server/standard_routes.h"

#include <string>
#include <string_view>
#include <utility>

#include "signet/json_writer.h"

namespace signet::server {

void AddStandardRoutes(Router& router, MetricsRegistry& metrics, ReadinessProbe probe) {
  router.Handle("GET", "/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "application/json", "{\"status\":\"ok\"}"};
  });
  router.Handle("GET", "/readyz", [probe = std::move(probe)](const HttpRequest&) {
    const Status status = probe ? probe() : Status(Error(ErrorCode::kInternal, "no probe"));
    if (status.ok()) return HttpResponse{200, "application/json", "{\"status\":\"ready\"}"};
    if (status.error().message().empty()) {
      return HttpResponse{503, "application/json", "{\"status\":\"not ready\"}"};
    }
    // The reason names files (key paths), which need not be UTF-8: written
    // as nlohmann writes strings, invalid bytes replaced, so the body stays JSON.
    std::string body = "{\"status\":\"not ready\",\"reason\":";
    AppendJsonString(body, status.error().message());
    body += '}';
    return HttpResponse{503, "application/json", std::move(body)};
  });
  router.Handle("GET", "/metrics", [&metrics](const HttpRequest&) {
    return HttpResponse{200, MetricsRegistry::kContentType, metrics.Render()};
  });
}

void AddStandardRoutes(Router& router, MetricsRegistry& metrics, std::function<bool()> ready) {
  AddStandardRoutes(router, metrics, ReadinessProbe([ready = std::move(ready)]() -> Status {
                      if (ready && ready()) return OkStatus();
                      return Error(ErrorCode::kInternal, "");
                    }));
}

}  // namespace signet::server
