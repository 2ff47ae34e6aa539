#include "clients/http_handler.h"

#include <boost/asio/ip/tcp.hpp>
#include <cpprest/http_client.h>

#include <chrono>

namespace ew::runtime {

namespace http = web::http;

struct HttpHandler::Impl {
  explicit Impl(const HttpHandlerConfig& c) : client(c.url, clientConfig(c)) {}

  static http::client::http_client_config clientConfig(const HttpHandlerConfig& c) {
    http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(c.timeout));
    cfg.set_validate_certificates(true);
    if (c.url.rfind("http://", 0) == 0) {
      // Requests go out as header + body writes: without TCP_NODELAY, Nagle and
      // the server's delayed ACK add 40 ms to every request.
      cfg.set_nativehandle_options([](web::http::client::native_handle h) {
        auto* socket = static_cast<boost::asio::ip::tcp::socket*>(h);
        boost::system::error_code ignored;
        socket->set_option(boost::asio::ip::tcp::no_delay(true), ignored);
      });
    }
    return cfg;
  }

  http::client::http_client client;
};

HttpHandler::HttpHandler(const HttpHandlerConfig& config) : impl_(std::make_unique<Impl>(config)) {}
HttpHandler::~HttpHandler() = default;

HandlerResult HttpHandler::handle(const HandlerRequest& r) {
  http::http_request req(http::methods::POST);
  req.set_request_uri(r.route);
  req.headers().add("Content-Type", "application/cloudevents+json");
  for (const auto& [k, v] : r.headers) req.headers().add(k, v);
  // A byte vector body: cpprestsdk's string-body path trips UBSan (see tests/sanitizers).
  req.set_body(std::vector<unsigned char>(r.body.begin(), r.body.end()));
  req.headers().set_content_type("application/cloudevents+json");
  try {
    http::http_response resp = impl_->client.request(req).get();
    const std::string body = resp.extract_utf8string(true).get();
    return interpretHttpReply(resp.status_code(), body);
  } catch (const std::exception& e) {
    return {Outcome::Retry, std::string("http: ") + e.what()};
  }
}

bool HttpHandler::reachable() {
  try {
    http::http_request req(http::methods::OPTIONS);
    req.set_request_uri("/");
    impl_->client.request(req).get();  // any HTTP reply means the server is up
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace ew::runtime
