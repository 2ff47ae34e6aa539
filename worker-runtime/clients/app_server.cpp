#include "clients/app_server.h"

namespace ew::runtime {
namespace {

class HttpAppServer : public AppServer {
 public:
  HttpAppServer(HttpServerOptions options, HttpServerHandler handler)
      : server_(std::move(options), std::move(handler)) {}
  Status start() override { return server_.start(); }
  int port() const override { return server_.port(); }
  void stopAccepting() override { server_.stopAccepting(); }
  size_t pending() const override { return server_.pending(); }
  void stop() override { server_.stop(); }

 private:
  HttpServer server_;
};

}  // namespace

AppServerFactory httpAppServers() {
  return [](HttpServerOptions options, HttpServerHandler handler) -> AppServerPtr {
    return std::make_unique<HttpAppServer>(std::move(options), std::move(handler));
  };
}

}  // namespace ew::runtime
