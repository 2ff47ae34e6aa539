#pragma once
// The manager's HTTP endpoints: GET /healthz, /readyz, /metrics. Handlers are
// plain functions, so this file is the only one of the manager that sees
// cpprestsdk. Thread-safe handlers required (called from listener threads).

#include <functional>
#include <memory>
#include <string>

#include "ew/result.h"

namespace ew::manager {

struct HttpReply {
  int status = 200;
  std::string body;
  std::string contentType = "text/plain; charset=utf-8";
};

class HttpEndpoints {
 public:
  using Handler = std::function<HttpReply()>;
  // address: "host:port", e.g. "127.0.0.1:8080" or "0.0.0.0:8080".
  explicit HttpEndpoints(std::string address);
  ~HttpEndpoints();
  void handle(const std::string& path, Handler handler);  // before start()
  Status start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ew::manager
