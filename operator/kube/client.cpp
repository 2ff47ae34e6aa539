#include "kube/client.h"

#include <cpprest/http_client.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace ew::kube {
namespace http = web::http;

struct KubeClient::Impl {
  ClusterAccess access;
  std::unique_ptr<http::client::http_client> client;

  std::string token() const {
    if (access.tokenFile.empty()) return access.bearerToken;
    std::ifstream in(access.tokenFile);
    std::ostringstream s;
    s << in.rdbuf();
    std::string t = s.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return t;
  }
};

namespace {

http::method toMethod(Verb verb) {
  switch (verb) {
    case Verb::Get: return http::methods::GET;
    case Verb::Post: return http::methods::POST;
    case Verb::Put: return http::methods::PUT;
    case Verb::Patch: return http::methods::PATCH;
    case Verb::Delete: return http::methods::DEL;
  }
  return http::methods::GET;
}

}  // namespace

KubeClient::KubeClient(ClusterAccess access, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->access = std::move(access);
  http::client::http_client_config config;
  config.set_timeout(timeout);
  config.set_validate_certificates(true);
  const ClusterAccess& a = impl_->access;
  config.set_ssl_context_callback([&a](boost::asio::ssl::context& ctx) {
    if (!a.caPem.empty()) ctx.add_certificate_authority(boost::asio::buffer(a.caPem));
    if (!a.clientCertPem.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(a.clientCertPem));
      ctx.use_private_key(boost::asio::buffer(a.clientKeyPem), boost::asio::ssl::context::pem);
    }
    ctx.set_verify_mode(boost::asio::ssl::verify_peer);
  });
  impl_->client = std::make_unique<http::client::http_client>(a.server, config);
}

KubeClient::~KubeClient() = default;

Result<Response> KubeClient::send(const Request& request) {
  http::http_request req(toMethod(request.verb));
  req.set_request_uri(request.path);
  req.headers().add("Accept", "application/json");
  if (auto t = impl_->token(); !t.empty()) req.headers().add("Authorization", "Bearer " + t);
  if (!request.body.empty() || request.verb == Verb::Post || request.verb == Verb::Put ||
      request.verb == Verb::Patch)
    req.set_body(request.body, request.contentType);
  try {
    http::http_response resp = impl_->client->request(req).get();
    return Response{resp.status_code(), resp.extract_utf8string(true).get()};
  } catch (const std::exception& e) {
    return Error{"kube-apiserver " + impl_->access.server + ": " + e.what()};
  }
}

Error apiError(const Response& response) {
  auto status = nlohmann::json::parse(response.body, nullptr, false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    return Error{status.value("reason", "Unknown") + ": " + status.value("message", ""), response.status};
  }
  return Error{"HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 512),
               response.status};
}

}  // namespace ew::kube
