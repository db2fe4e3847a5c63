// Plain-data HTTP request and response as the server hands them to route
// handlers, and the handler signature itself.
//
// These are values: they own their strings, carry no socket or TLS state, and
// may be copied or moved between threads freely.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace signet::server {

// One parsed HTTP/1.1 request. Header names are lowercased; when a header is
// repeated the values are joined with ", " (RFC 9110 field combination).
struct HttpRequest {
  std::string method;  // "GET", "POST", ... (as sent, case-sensitive)
  std::string target;  // request-target as sent, including any query string
  std::string path;    // target without the query string; what the router matches
  std::map<std::string, std::string> headers;
  std::string body;
  std::string request_id;           // X-Request-Id when sane, otherwise generated
  std::string peer;                 // "ip:port" of the client
  std::string client_cert_subject;  // verified mTLS client subject (RFC 2253), "" without mTLS

  // The value of header `name` (lowercase), or "" when absent.
  const std::string& Header(const std::string& name) const;
};

// What a handler returns. The server adds Content-Length, Connection,
// X-Request-Id and Cache-Control: no-store.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// A route handler. It runs on the server's bounded handler pool (never on an
// I/O thread), so it may block, but it must bound its own running time: the
// connection and the pool thread stay busy until it returns. It must not throw;
// an exception escaping it is answered with a 500 and logged.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

// An optional companion of a Handler that answers a request at once when it
// can, without blocking: it runs on the I/O thread that read the request,
// before the request would go to the handler pool. It returns the response
// (exactly what the Handler would have answered, with the same logs and
// metrics), or std::nullopt to decline, and then the Handler runs on the
// pool as usual. It must never wait (no network, no sleeping, no waiting on
// other work or on a lock held across I/O), must not throw, and must leave
// no trace (no log line, no metric) when it declines.
using InlineHandler = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

}  // namespace signet::server
