#pragma once
// The ops endpoints both binaries serve (GET /healthz, /readyz, /metrics, ...):
// a path → handler table on the small Beast server (ew/http_server.h).
// Handlers are plain functions, called on the server's I/O threads, so they
// must be thread-safe and quick.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "ew/result.h"

namespace ew {

class HttpServer;

struct HttpReply {
  int status = 200;
  std::string body;
  std::string contentType = "text/plain; charset=utf-8";
};

class HttpEndpoints {
 public:
  using Handler = std::function<HttpReply()>;
  // address: "host:port" with an IP address or "localhost" as host, e.g.
  // "127.0.0.1:8080", "0.0.0.0:8080", "[::1]:8080".
  explicit HttpEndpoints(std::string address);
  ~HttpEndpoints();
  void handle(const std::string& path, Handler handler);  // before start()
  // Binds and serves; the error names the address.
  Status start();
  void stop();

 private:
  std::string address_;
  std::map<std::string, Handler> handlers_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace ew
