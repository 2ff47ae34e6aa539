#include "kube/plain_http.h"

#include <cpprest/http_client.h>

namespace ew::kube {

Result<Response> plainGet(const std::string& host, int port, const std::string& path,
                          std::chrono::milliseconds timeout) {
  namespace http = web::http;
  const std::string address = host + ":" + std::to_string(port);
  try {
    http::client::http_client_config config;
    config.set_timeout(timeout);
    http::client::http_client client("http://" + address, config);
    http::http_request req(http::methods::GET);
    req.set_request_uri(path);
    http::http_response resp = client.request(req).get();
    const auto body = resp.extract_vector().get();
    return Response{resp.status_code(), std::string(body.begin(), body.end())};
  } catch (const std::exception& e) {
    return Error{"GET http://" + address + path + ": " + e.what()};
  }
}

}  // namespace ew::kube
