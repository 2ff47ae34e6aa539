#include "manager/http_endpoints.h"

#include <cpprest/http_listener.h>

#include <map>

namespace ew::manager {

namespace http = web::http;

struct HttpEndpoints::Impl {
  std::string address;
  std::map<std::string, Handler> handlers;
  std::unique_ptr<http::experimental::listener::http_listener> listener;
};

HttpEndpoints::HttpEndpoints(std::string address) : impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(address);
}

HttpEndpoints::~HttpEndpoints() { stop(); }

void HttpEndpoints::handle(const std::string& path, Handler handler) { impl_->handlers[path] = std::move(handler); }

Status HttpEndpoints::start() {
  try {
    impl_->listener = std::make_unique<http::experimental::listener::http_listener>("http://" + impl_->address);
    Impl* impl = impl_.get();
    impl_->listener->support(http::methods::GET, [impl](http::http_request req) {
      auto it = impl->handlers.find(req.relative_uri().path());
      if (it == impl->handlers.end()) {
        req.reply(http::status_codes::NotFound, "not found\n", "text/plain");
        return;
      }
      HttpReply r = it->second();
      req.reply(static_cast<http::status_code>(r.status), r.body, r.contentType);
    });
    impl_->listener->open().wait();
  } catch (const std::exception& e) {
    return Error{"listen on " + impl_->address + ": " + e.what()};
  }
  return Status::success();
}

void HttpEndpoints::stop() {
  if (!impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
  }
  impl_->listener.reset();
}

}  // namespace ew::manager
