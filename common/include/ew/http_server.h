#pragma once
// A small HTTP/1.1 server (Boost.Beast over Boost.Asio) for requests whose
// reply comes later, from another thread: the handler gets each request with
// a reply function to call once, at once or when the work is done. One
// request at a time per connection (keep-alive, no pipelining); a request
// whose body is over maxBodyBytes reaches the handler without it (marked
// bodyTooLarge) and its connection is closed after the reply; a connection
// idle for idleTimeout is closed.
//
// Thread-safety: start/stopAccepting/stop are called by one controlling
// thread. The handler runs on the server's I/O threads and must not block.
// A reply function may be called from any thread, at most once; after stop()
// it does nothing.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ew/result.h"

namespace ew {

// Header name/value pairs in arrival order (the runtime's Headers is the same type).
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpServerRequest {
  std::string method;       // "GET", "POST", ...
  std::string target;       // origin-form, e.g. "/events?x=1"
  std::string contentType;  // "" when absent
  HttpHeaders headers;      // every header; names lowercased
  std::string body;
  // The body was over maxBodyBytes and was not read (body is empty); the
  // connection is closed after the reply.
  bool bodyTooLarge = false;
};

struct HttpServerReply {
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
  bool close = false;  // close the connection after this reply
};

using HttpReplyFn = std::function<void(HttpServerReply)>;
using HttpServerHandler = std::function<void(HttpServerRequest&&, HttpReplyFn)>;

struct HttpServerOptions {
  std::string address;  // IP address to bind
  int port = 0;         // 0: any free port (see HttpServer::port)
  size_t maxBodyBytes = 8 << 20;
  size_t threads = 2;
  std::chrono::seconds idleTimeout{300};
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpServerHandler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens, then serves on the I/O threads. The error names the address.
  Status start();
  int port() const;  // the bound port, after start()

  // Closes the listener: no new connections; open ones keep being served.
  void stopAccepting();
  // Requests read whose reply has not been written yet.
  size_t pending() const;
  // Closes every connection and joins the I/O threads.
  void stop();

 private:
  friend class HttpSession;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ew
