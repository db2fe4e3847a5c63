#include "signet/server/router.h"

#include <exception>
#include <utility>

#include "signet/log/json_log.h"

namespace signet::server {
namespace {

int DefaultStatus(RejectionKind kind) {
  switch (kind) {
    case RejectionKind::kBadRequest:
      return 400;
    case RejectionKind::kBodyTooLarge:
      return 413;
    case RejectionKind::kNotFound:
      return 404;
    case RejectionKind::kMethodNotAllowed:
      return 405;
    case RejectionKind::kInternalError:
      return 500;
  }
  return 500;
}

HttpResponse DefaultRejection(RejectionKind kind, const HttpRequest& /*request*/) {
  HttpResponse response;
  response.status = DefaultStatus(kind);
  response.body = "{\"error\":\"" + std::string(RejectionKindName(kind)) + "\"}";
  return response;
}

}  // namespace

std::string_view RejectionKindName(RejectionKind kind) {
  switch (kind) {
    case RejectionKind::kBadRequest:
      return "bad_request";
    case RejectionKind::kBodyTooLarge:
      return "body_too_large";
    case RejectionKind::kNotFound:
      return "not_found";
    case RejectionKind::kMethodNotAllowed:
      return "method_not_allowed";
    case RejectionKind::kInternalError:
      return "internal_error";
  }
  return "unknown";
}

const std::string& HttpRequest::Header(const std::string& name) const {
  static const std::string kEmpty;
  const auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

Router::Router() : on_rejected_(DefaultRejection) {}

void Router::Handle(std::string method, std::string path, Handler handler,
                    InlineHandler try_inline) {
  routes_[std::move(path)][std::move(method)] = Route{std::move(handler), std::move(try_inline)};
}

void Router::OnRejected(RejectionHandler handler) {
  on_rejected_ = handler ? std::move(handler) : RejectionHandler(DefaultRejection);
}

HttpResponse Router::Dispatch(const HttpRequest& request) const {
  const auto path_it = routes_.find(request.path);
  if (path_it == routes_.end()) return Reject(RejectionKind::kNotFound, request);
  const auto method_it = path_it->second.find(request.method);
  if (method_it == path_it->second.end()) {
    return Reject(RejectionKind::kMethodNotAllowed, request);
  }
  try {
    return method_it->second.handler(request);
  } catch (const std::exception& e) {
    log::LogEvent(spdlog::level::err, {{"event", "handler_threw"},
                                       {"method", request.method},
                                       {"path", request.path},
                                       {"error", e.what()},
                                       {"request_id", request.request_id}});
  } catch (...) {
    log::LogEvent(spdlog::level::err, {{"event", "handler_threw"},
                                       {"method", request.method},
                                       {"path", request.path},
                                       {"error", "a non-standard exception"},
                                       {"request_id", request.request_id}});
  }
  return Reject(RejectionKind::kInternalError, request);
}

std::optional<HttpResponse> Router::TryDispatchInline(const HttpRequest& request) const {
  const auto path_it = routes_.find(request.path);
  if (path_it == routes_.end()) return std::nullopt;
  const auto method_it = path_it->second.find(request.method);
  if (method_it == path_it->second.end() || !method_it->second.try_inline) return std::nullopt;
  try {
    return method_it->second.try_inline(request);
  } catch (const std::exception& e) {
    spdlog::error(
        "inline handler for {} {} threw: {} (request_id={}); the request goes to the "
        "handler pool",
        request.method, request.path, e.what(), request.request_id);
  } catch (...) {
    spdlog::error(
        "inline handler for {} {} threw a non-standard exception (request_id={}); the "
        "request goes to the handler pool",
        request.method, request.path, request.request_id);
  }
  return std::nullopt;
}

HttpResponse Router::Reject(RejectionKind kind, const HttpRequest& request) const {
  try {
    return on_rejected_(kind, request);
  } catch (...) {
    log::LogEvent(spdlog::level::err, {{"event", "rejection_handler_threw"},
                                       {"kind", RejectionKindName(kind)},
                                       {"request_id", request.request_id}});
    return DefaultRejection(kind, request);
  }
}

bool Router::HasPath(std::string_view path) const { return routes_.find(path) != routes_.end(); }

}  // namespace signet::server
