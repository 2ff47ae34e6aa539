#include "ew/http_endpoints.h"

#include "ew/host_port.h"
#include "ew/http_server.h"

namespace ew {

HttpEndpoints::HttpEndpoints(std::string address) : address_(std::move(address)) {}

HttpEndpoints::~HttpEndpoints() { stop(); }

void HttpEndpoints::handle(const std::string& path, Handler handler) { handlers_[path] = std::move(handler); }

Status HttpEndpoints::start() {
  auto hp = parseHostPort(address_);
  if (!hp) return Error{"listen on " + address_ + ": " + hp.error().message};
  HttpServerOptions options;
  options.address = hp->host == "localhost" ? "127.0.0.1" : hp->host;
  options.port = hp->port;
  options.maxBodyBytes = 64 << 10;  // ops requests carry no body
  options.threads = 1;
  options.idleTimeout = std::chrono::seconds(60);
  // handlers_ is not changed after start(), so the I/O thread reads it unlocked.
  server_ = std::make_unique<HttpServer>(options, [this](HttpServerRequest&& request, HttpReplyFn reply) {
    const std::string path = request.target.substr(0, request.target.find('?'));
    auto it = handlers_.find(path);
    if (request.method != "GET") {
      reply({405, "method not allowed\n", "text/plain; charset=utf-8"});
    } else if (it == handlers_.end()) {
      reply({404, "not found\n", "text/plain; charset=utf-8"});
    } else {
      HttpReply r = it->second();
      reply({r.status, std::move(r.body), std::move(r.contentType)});
    }
  });
  if (Status s = server_->start(); !s.ok()) {
    server_.reset();
    return s;
  }
  return Status::success();
}

void HttpEndpoints::stop() {
  if (!server_) return;
  server_->stop();
  server_.reset();
}

}  // namespace ew
