#pragma once
// The streams' HTTP server: Boost.Beast over Boost.Asio, every connection
// asynchronous on a few I/O threads (10,000 clients are 10,000 sockets and
// small session objects, not threads). A client GETs a stream's path; the
// reply is text/event-stream until the client leaves, is cut off, or the
// server drains. Sessions: streams/sse_session.h.
//
// Thread-safety: start/startAccepting/drain/stop from one controlling thread.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ew/result.h"

namespace ew::runtime {

class StreamHub;
class BearerAuth;
class CatchUps;

// A stream as the server routes to it.
struct StreamRoute {
  StreamHub* hub = nullptr;
  BearerAuth* auth = nullptr;  // nullptr: auth mode none
};

struct SseServerOptions {
  std::string address;  // host:port; port 0 picks a free one
  size_t threads = 2;
  std::vector<StreamRoute> routes;
  CatchUps* catchUps = nullptr;
};

class SseServer {
 public:
  explicit SseServer(SseServerOptions options);
  ~SseServer();  // stop()
  // Binds and listens (connections wait in the backlog until startAccepting).
  Status bind();
  int port() const;
  // Starts the I/O threads and serves.
  void startAccepting();
  // Stops accepting; tells every client to reconnect (ew-reconnect) and
  // closes it; waits until they are closed or DEADLINE. Returns the clients
  // still open then.
  size_t drain(std::chrono::steady_clock::time_point deadline);
  // Closes everything and joins the I/O threads.
  void stop();
  size_t sessions() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ew::runtime
