#pragma once
// The http handler: POSTs each event to the handler container on loopback the
// way Dapr's app channel does (Content-Type application/cloudevents+json,
// route appended to the base URL) and maps the reply with interpretHttpReply;
// timeouts and connection errors are retries.
//
// Connections: a pool of at most handler.http.maxConnections keep-alive
// connections (HttpConnection), each used by one call at a time and reused
// most-recently-used first; a call waits for a free one no longer than its
// timeout, which bounds the whole call (wait, connect, send, reply). A
// connection that the server closed while idle is replaced at once and the
// request sent again on the new one (at-least-once). Thread-safe.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "clients/http_connection.h"
#include "core/config.h"
#include "core/handler.h"

namespace ew::runtime {

class HttpHandler : public Handler {
 public:
  // REQUIRES: config.url parses (the config parser checked it).
  explicit HttpHandler(const HttpHandlerConfig& config);
  ~HttpHandler() override;
  HandlerResult handle(const HandlerRequest& request) override;
  bool reachable() override;

 private:
  HttpConnectionPtr acquire(HttpConnection::Clock::time_point deadline);
  void release(HttpConnectionPtr connection);

  const HttpHandlerConfig config_;
  HttpTarget target_;
  HttpClientContextPtr context_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<HttpConnectionPtr> idle_;  // guarded by mu_
  size_t lent_ = 0;                      // connections in use; guarded by mu_
};

}  // namespace ew::runtime
