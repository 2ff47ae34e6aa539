#pragma once
// A thin HTTPS client for the kube-apiserver. TLS is always verified against
// ClusterAccess::caPem (or the system roots when it is empty). cpprestsdk stays
// inside client.cpp.
//
// Thread-safe: send() may be called from several threads at once.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ew/result.h"
#include "kube/kubeconfig.h"

namespace ew::kube {

enum class Verb { Get, Post, Put, Patch, Delete };

struct Request {
  Verb verb = Verb::Get;
  std::string path;  // absolute API path with query, e.g. /api/v1/namespaces?limit=10
  std::string body;
  std::string contentType = "application/json";
};

struct Response {
  int status = 0;
  std::string body;
};

// Lets another thread stop a stream() in progress. Copies share one state.
class StreamCancel {
 public:
  StreamCancel();
  void cancel() const;
  bool cancelled() const;

 private:
  friend class KubeClient;
  struct State;
  std::shared_ptr<State> state_;
};

class KubeClient {
 public:
  explicit KubeClient(ClusterAccess access, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // Called after every request with its verb and HTTP status (0 when the
  // transport failed). Set before the client is shared; must be thread-safe.
  void setObserver(std::function<void(Verb, int status)> observer);

  // Sends one request. A transport failure (connect, TLS, timeout) is an Error;
  // any HTTP reply, including 4xx/5xx, is a Response.
  Result<Response> send(const Request& request);

  // Sends a GET and hands the body to onBytes piece by piece as it arrives
  // (for watches), until the server ends the reply, onBytes returns false, or
  // cancel.cancel() is called. idleTimeout bounds the wait for the next byte.
  // A non-2xx reply is returned whole in Response::body without calling
  // onBytes; a 2xx reply returns its status with an empty body.
  Result<Response> stream(const Request& request, const std::function<bool(std::string_view)>& onBytes,
                          const StreamCancel& cancel, std::chrono::milliseconds idleTimeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

const char* verbName(Verb verb);

// Sizes cpprestsdk's I/O thread pool, shared by every client in the process
// (its default is 40 threads). Every wait on a response happens on the
// caller's thread, so the pool only runs socket and TLS handlers: a few
// threads serve many concurrent requests, with fewer context switches and
// thread stacks. Call once, before the first request; false if the pool was
// already started.
bool setIoThreads(size_t threads);

// Keeps OpenSSL from loading the system CA bundle file into every new TLS
// context. cpprestsdk makes one per connection and loads the default paths
// into it before the client puts the cluster CA in their place: about 140
// CAs parsed, some 0.7 MB allocated per connection, several connections at
// once at start, and the heap keeps the high-water mark (1,000 workers'
// operator: 2-4 MiB of its resident set). Points SSL_CERT_FILE at an empty
// file when the environment names none (or OpenSSL's default bundle, the
// system's) and CERT_DIRS (OpenSSL's hashed
// directories, ':'-separated; empty: SSL_CERT_DIR, else OpenSSL's default)
// holds hash links: the same system CAs stay trusted, looked up in that
// directory by subject hash when a chain needs one (librdkafka's default
// verification too). Returns whether it did. Call first in main, before any
// thread starts (it sets the environment).
bool preferHashedSystemTrust(const std::string& certDirs = "");

// The Kubernetes Status object of a failed reply as an Error:
// code = HTTP status, message = "<reason>: <message>" (or the raw body).
Error apiError(const Response& response);

}  // namespace ew::kube
