#pragma once
// What the Dapr source (loops/dapr_source.h) needs of the HTTP server of its
// app channel: the seam between it and ew::HttpServer, so that unit tests
// hand it requests in memory (clients/memory_app_server.h). The contract is
// ew::HttpServer's (ew/http_server.h): the handler gets each request with a
// reply function to call once, from any thread; pending() counts requests
// not replied to yet; after stopAccepting() open connections are still
// served; after stop() a reply does nothing.
//
// Thread-safety: start/stopAccepting/stop from one controlling thread;
// pending() and port() from any thread.

#include <functional>
#include <memory>

#include "ew/http_server.h"
#include "ew/result.h"

namespace ew::runtime {

class AppServer {
 public:
  virtual ~AppServer() = default;  // stops
  virtual Status start() = 0;      // binds and serves; the error names the address
  virtual int port() const = 0;    // the bound port, after start()
  virtual void stopAccepting() = 0;
  virtual size_t pending() const = 0;
  virtual void stop() = 0;
};

using AppServerPtr = std::unique_ptr<AppServer>;
using AppServerFactory = std::function<AppServerPtr(HttpServerOptions options, HttpServerHandler handler)>;

// Servers that are ew::HttpServer.
AppServerFactory httpAppServers();

}  // namespace ew::runtime
