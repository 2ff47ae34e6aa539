#pragma once
// A plain-HTTP GET for what the operator reads from its workers' pods (the
// outbox relays' /status): no credentials, no TLS, one request bounded by
// TIMEOUT. cpprestsdk stays inside plain_http.cpp.
//
// Thread-safe.

#include <chrono>
#include <string>

#include "ew/result.h"
#include "kube/client.h"

namespace ew::kube {

// GET http://HOST:PORT PATH. A transport failure (connect, timeout) is an
// Error naming the address; any HTTP reply is a Response.
Result<Response> plainGet(const std::string& host, int port, const std::string& path,
                          std::chrono::milliseconds timeout);

}  // namespace ew::kube
