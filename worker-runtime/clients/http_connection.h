#pragma once
// One HTTP/1.1 keep-alive connection to the handler container: sends a
// request and reads its reply on the caller's thread, connecting (again) when
// needed, with every step bounded by a deadline. No I/O threads and no task
// hand-offs: a request costs a write, a poll and a read. Boost.Beast writes and
// parses the messages; https uses Boost.Asio's OpenSSL stream. Not
// thread-safe: one caller at a time (HttpHandler's pool hands it out).

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/http_target.h"
#include "core/message.h"
#include "ew/result.h"

namespace ew::runtime {

// What the connections to one target share: the I/O context their sockets
// belong to (never run: every call is synchronous) and, for https, the TLS
// context (system trust store, peer and host name verified). Thread-safe.
struct HttpClientContext;
using HttpClientContextPtr = std::shared_ptr<HttpClientContext>;
Result<HttpClientContextPtr> makeHttpClientContext(const HttpTarget& target);

struct HttpRequestView {
  std::string_view method = "POST";
  std::string_view target;       // origin-form, e.g. "/events/x"
  std::string_view contentType;  // omitted when empty
  const Headers* headers = nullptr;
  std::string_view body;
};

struct HttpReply {
  int status = 0;
  std::string body;  // empty when only the header was read
};

// Error.code of a failed exchange.
enum HttpErrorCode : int {
  kHttpTimeout = 1,     // the deadline passed (connect, write or read)
  kHttpClosedIdle = 2,  // a kept-alive connection was found closed before any reply byte: try a fresh one
  kHttpFailed = 3,      // anything else (refused, reset mid-reply, malformed reply, TLS)
};

class HttpConnection {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HttpConnection(HttpClientContextPtr context);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends REQUEST and reads the whole reply (only its header when HEADER_ONLY)
  // by DEADLINE. The connection stays open for the next call unless the reply
  // or an error ends it. Errors carry an HttpErrorCode and name the target.
  Result<HttpReply> exchange(const HttpRequestView& request, Clock::time_point deadline, bool headerOnly = false);

  bool isOpen() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
using HttpConnectionPtr = std::unique_ptr<HttpConnection>;

}  // namespace ew::runtime
