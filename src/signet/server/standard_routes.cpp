#include "signet/server/standard_routes.h"

#include <string>
#include <string_view>
#include <utility>

namespace signet::server {

namespace {

std::string JsonString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

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
    return HttpResponse{
        503, "application/json",
        "{\"status\":\"not ready\",\"reason\":" + JsonString(status.error().message()) + "}"};
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
