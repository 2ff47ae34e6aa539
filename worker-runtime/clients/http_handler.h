#pragma once
// The http handler: POSTs each event to the handler container on loopback the
// way Dapr's app channel does (Content-Type application/cloudevents+json,
// route appended to the base URL) and maps the reply with interpretHttpReply;
// timeouts and connection errors are retries. Connections are kept alive and
// reused. The only translation unit (with ops_server.cpp) that includes
// cpprestsdk. Thread-safe.

#include <memory>

#include "core/config.h"
#include "core/handler.h"

namespace ew::runtime {

class HttpHandler : public Handler {
 public:
  explicit HttpHandler(const HttpHandlerConfig& config);
  ~HttpHandler() override;
  HandlerResult handle(const HandlerRequest& request) override;
  bool reachable() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ew::runtime
