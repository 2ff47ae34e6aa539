#pragma once
// Where the http handler sends requests: the parts of handler.http.url
// (FORMAT.md) that a client needs, and the request target of a route joined
// to the URL's path the way the previous client (cpprestsdk's
// uri_builder::append) did. Pure.

#include <cstdint>
#include <string>

#include "ew/result.h"

namespace ew::runtime {

struct HttpTarget {
  bool tls = false;        // https
  std::string host;        // without IPv6 brackets: "127.0.0.1", "localhost", "::1"
  uint16_t port = 0;       // 80/443 when the URL has none
  std::string hostHeader;  // the Host header: "127.0.0.1:8080", "[::1]:8080"
  std::string basePath;    // "" or "/api" (no trailing '/')
  std::string baseQuery;   // "" or "a=1" (without '?')
};

// Parses an absolute http:// or https:// URL. Errors name the URL and the part.
Result<HttpTarget> parseHttpUrl(const std::string& url);

// The request target for ROUTE (which starts with '/' and may carry a query):
// the base path and ROUTE joined by exactly one '/', queries joined by '&'.
std::string requestTarget(const HttpTarget& target, const std::string& route);

}  // namespace ew::runtime
