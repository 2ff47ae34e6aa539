#include "kube/client.h"

#include <cpprest/http_client.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pplx/threadpool.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ew::kube {
namespace http = web::http;

struct StreamCancel::State {
  pplx::cancellation_token_source source;
};

StreamCancel::StreamCancel() : state_(std::make_shared<State>()) {}
void StreamCancel::cancel() const { state_->source.cancel(); }
bool StreamCancel::cancelled() const { return state_->source.get_token().is_canceled(); }

namespace {

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
using CertStore = std::unique_ptr<X509_STORE, StoreFree>;

// A certificate store holding just the certificates of PEM; null when PEM has none.
CertStore certStoreOf(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return nullptr;
  CertStore store(X509_STORE_new());
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store.get(), cert) == 1) ++added;
    X509_free(cert);
  }
  ERR_clear_error();  // the read that ended the loop
  return added ? std::move(store) : nullptr;
}

}  // namespace

struct KubeClient::Impl {
  ClusterAccess access;
  std::function<void(Verb, int)> observer;
  std::unique_ptr<http::client::http_client> client;
  // The cluster CA as the only trust anchor when the config names one (as
  // kubectl does). One store shared by every connection: cpprestsdk gives
  // each new connection a context loaded with the system CA bundle (about
  // 0.7 MB each), which this replaces.
  CertStore clusterCa;

  http::client::http_client_config config(std::chrono::milliseconds timeout) const {
    http::client::http_client_config config;
    config.set_timeout(timeout);
    config.set_validate_certificates(true);
    const ClusterAccess& a = access;
    X509_STORE* ca = clusterCa.get();
    config.set_ssl_context_callback([&a, ca](boost::asio::ssl::context& ctx) {
      if (ca)
        SSL_CTX_set1_cert_store(ctx.native_handle(), ca);
      else if (!a.caPem.empty())
        ctx.add_certificate_authority(boost::asio::buffer(a.caPem));
      if (!a.clientCertPem.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(a.clientCertPem));
        ctx.use_private_key(boost::asio::buffer(a.clientKeyPem), boost::asio::ssl::context::pem);
      }
      ctx.set_verify_mode(boost::asio::ssl::verify_peer);
    });
    return config;
  }

  http::http_request makeRequest(const Request& request) const;

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
    case Verb::Get:
      return http::methods::GET;
    case Verb::Post:
      return http::methods::POST;
    case Verb::Put:
      return http::methods::PUT;
    case Verb::Patch:
      return http::methods::PATCH;
    case Verb::Delete:
      return http::methods::DEL;
  }
  return http::methods::GET;
}

}  // namespace

http::http_request KubeClient::Impl::makeRequest(const Request& request) const {
  http::http_request req(toMethod(request.verb));
  req.set_request_uri(request.path);
  req.headers().add("Accept", "application/json");
  if (auto t = token(); !t.empty()) req.headers().add("Authorization", "Bearer " + t);
  if (!request.body.empty() || request.verb == Verb::Post || request.verb == Verb::Put || request.verb == Verb::Patch) {
    // A byte vector body: the std::string overload reinterprets a char
    // streambuf as a byte one inside cpprestsdk (UBSan: vptr).
    req.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
    req.headers().set_content_type(request.contentType);
  }
  return req;
}

KubeClient::KubeClient(ClusterAccess access, std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()) {
  impl_->access = std::move(access);
  impl_->clusterCa = certStoreOf(impl_->access.caPem);
  impl_->client = std::make_unique<http::client::http_client>(impl_->access.server, impl_->config(timeout));
}

KubeClient::~KubeClient() = default;

Result<Response> KubeClient::stream(const Request& request, const std::function<bool(std::string_view)>& onBytes,
                                    const StreamCancel& cancel, std::chrono::milliseconds idleTimeout) {
  // A client of its own: its timeout is the idle bound of this one stream.
  http::client::http_client client(impl_->access.server, impl_->config(idleTimeout));
  try {
    auto token = cancel.state_->source.get_token();
    http::http_response resp = client.request(impl_->makeRequest(request), token).get();
    if (impl_->observer) impl_->observer(request.verb, resp.status_code());
    if (resp.status_code() / 100 != 2) return Response{resp.status_code(), resp.extract_utf8string(true).get()};
    auto buf = resp.body().streambuf();
    std::string chunk;
    while (!cancel.cancelled()) {
      // Wait for one byte, then take whatever else has already arrived.
      chunk.resize(1);
      if (buf.getn(reinterpret_cast<uint8_t*>(chunk.data()), 1).get() == 0) break;  // end of body
      size_t more = static_cast<size_t>(std::max<std::streamsize>(buf.in_avail(), 0));
      if (more > 0) {
        chunk.resize(1 + more);
        more = buf.getn(reinterpret_cast<uint8_t*>(chunk.data()) + 1, more).get();
        chunk.resize(1 + more);
      }
      if (!onBytes(chunk)) break;
    }
    return Response{resp.status_code(), ""};
  } catch (const std::exception& e) {
    if (cancel.cancelled()) return Response{499, ""};
    return Error{"kube-apiserver " + impl_->access.server + ": " + e.what()};
  }
}

namespace {

// Whether DIR holds an OpenSSL hash link (8 hex digits, '.', a digit).
bool hasHashLinks(const std::string& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() >= 10 && name[8] == '.' && std::isdigit(static_cast<unsigned char>(name[9])) &&
        std::all_of(name.begin(), name.begin() + 8,
                    [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      return true;
  }
  return false;
}

// Whether the environment names no bundle, or OpenSSL's default one (the
// system's, as some shells export it); another file is the user's choice.
bool systemBundleOrNone() {
  const char* named = std::getenv(X509_get_default_cert_file_env());
  if (!named) return true;
  std::error_code a, b;
  const auto file = std::filesystem::canonical(named, a);
  const auto system = std::filesystem::canonical(X509_get_default_cert_file(), b);
  return !a && !b && file == system;
}

}  // namespace

bool preferHashedSystemTrust(const std::string& certDirs) {
  if (!systemBundleOrNone()) return false;
  std::string dirs = certDirs;
  if (dirs.empty()) {
    const char* env = std::getenv(X509_get_default_cert_dir_env());
    dirs = env ? env : X509_get_default_cert_dir();
  }
  bool hashed = false;
  for (size_t start = 0; !hashed && start <= dirs.size();) {
    const size_t colon = std::min(dirs.find(':', start), dirs.size());
    hashed = hasHashLinks(dirs.substr(start, colon - start));
    start = colon + 1;
  }
  return hashed && ::setenv(X509_get_default_cert_file_env(), "/dev/null", 1) == 0;
}

bool setIoThreads(size_t threads) {
  try {
    crossplat::threadpool::initialize_with_threads(threads);
    return true;
  } catch (const std::exception&) {
    return false;  // already initialized
  }
}

void KubeClient::setObserver(std::function<void(Verb, int)> observer) { impl_->observer = std::move(observer); }

const char* verbName(Verb verb) {
  switch (verb) {
    case Verb::Get:
      return "GET";
    case Verb::Post:
      return "POST";
    case Verb::Put:
      return "PUT";
    case Verb::Patch:
      return "PATCH";
    case Verb::Delete:
      return "DELETE";
  }
  return "GET";
}

Result<Response> KubeClient::send(const Request& request) {
  http::http_request req = impl_->makeRequest(request);
  try {
    http::http_response resp = impl_->client->request(req).get();
    Response out{resp.status_code(), resp.extract_utf8string(true).get()};
    if (impl_->observer) impl_->observer(request.verb, out.status);
    return out;
  } catch (const std::exception& e) {
    if (impl_->observer) impl_->observer(request.verb, 0);
    return Error{"kube-apiserver " + impl_->access.server + ": " + e.what()};
  }
}

Error apiError(const Response& response) {
  auto status = nlohmann::json::parse(response.body, nullptr, false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    return Error{status.value("reason", "Unknown") + ": " + status.value("message", ""), response.status};
  }
  return Error{"HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 512), response.status};
}

}  // namespace ew::kube
