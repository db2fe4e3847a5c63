// Maps (method, path) to handlers, and decides what the client gets when the
// server refuses a request before any handler runs.
//
// Paths match exactly (no patterns; the query string is ignored). A path that
// is registered for another method gets kMethodNotAllowed, an unknown path
// kNotFound. Register all routes before handing the router to HttpsServer;
// after that it is only read, so Dispatch and Reject are safe to call from
// many threads at once.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "signet/server/http_message.h"

namespace signet::server {

// Why a request was refused before (or instead of) its handler.
enum class RejectionKind {
  kBadRequest,        // malformed HTTP (request line, headers, chunking)
  kBodyTooLarge,      // body over ServerOptions::max_body_bytes
  kNotFound,          // no route for the path
  kMethodNotAllowed,  // the path exists for other methods only
  kInternalError,     // the handler threw
};

// Stable lowercase name ("bad_request", "body_too_large", ...), for logs.
std::string_view RejectionKindName(RejectionKind kind);

// Builds the response for a refused request. `request` may be partial: for
// kBadRequest and kBodyTooLarge the body is empty and the headers may be
// incomplete. Called on a handler-pool thread; must not throw.
using RejectionHandler = std::function<HttpResponse(RejectionKind, const HttpRequest&)>;

class Router {
 public:
  Router();

  // Registers `handler` for `method` on the exact `path` (e.g. "/validate"),
  // with an optional `try_inline` (see InlineHandler) that the server asks
  // first, on the I/O thread. A later registration for the same (method,
  // path) replaces the earlier one.
  void Handle(std::string method, std::string path, Handler handler, InlineHandler try_inline = {});

  // Replaces the default rejection handler, which answers the plain status
  // (400, 413, 404, 405, 500) with a small JSON body {"error": "<kind>"}.
  void OnRejected(RejectionHandler handler);

  // Runs the matching handler, or the rejection handler for kNotFound /
  // kMethodNotAllowed. Exceptions from handlers become kInternalError.
  HttpResponse Dispatch(const HttpRequest& request) const;

  // The inline answer of the matching route's InlineHandler, or std::nullopt
  // when the route has none, there is no matching route (the rejection runs
  // on the pool), or it declines. An exception from it is logged and
  // declines.
  std::optional<HttpResponse> TryDispatchInline(const HttpRequest& request) const;

  // Runs the rejection handler for `kind`.
  HttpResponse Reject(RejectionKind kind, const HttpRequest& request) const;

  // True when some method is registered for `path`. The server uses it to
  // keep metric label values bounded: unknown paths are reported as "other".
  bool HasPath(std::string_view path) const;

 private:
  struct Route {
    Handler handler;
    InlineHandler try_inline;
  };
  std::map<std::string, std::map<std::string, Route>, std::less<>> routes_;  // path -> method
  RejectionHandler on_rejected_;
};

}  // namespace signet::server
