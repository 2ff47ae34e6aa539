#pragma once
// An AppServer in memory (clients/app_server.h) for unit tests of the Dapr
// source: a test sends a request and later reads its reply, with no socket.
// tests/integration/runtime/app_server_contract_test.cpp holds it to
// ew::HttpServer.
// Requests sent after stopAccepting() are still handed over (as on a
// connection daprd kept open); after stop() replies are dropped and
// requests refused (status 0), as a closed connection would.
//
// Thread-safety: every method from any thread.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "clients/app_server.h"

namespace ew::runtime {

class MemoryAppServer : public AppServer {
 public:
  // One request's reply, once there is one.
  class Reply {
   public:
    // Waits (real time, at most WITHIN) for the reply; nullopt when none came.
    std::optional<HttpServerReply> wait(std::chrono::milliseconds within);
    std::optional<HttpServerReply> now();

   private:
    friend class MemoryAppServer;
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<HttpServerReply> reply_;  // guarded by mu_
  };
  using ReplyPtr = std::shared_ptr<Reply>;

  explicit MemoryAppServer(HttpServerHandler handler) : handler_(std::move(handler)) {}
  // An AppServerFactory making one MemoryAppServer, which *MADE points to
  // while it lives (not owned).
  static AppServerFactory factory(MemoryAppServer** made);

  Status start() override;
  int port() const override { return 0; }
  void stopAccepting() override;
  size_t pending() const override;
  void stop() override;

  // Hands REQUEST to the handler (on this thread, as an I/O thread would).
  ReplyPtr send(HttpServerRequest request);
  bool accepting() const;

 private:
  // Shared with the reply functions, which may outlive the server.
  struct State {
    std::mutex mu;
    size_t pending = 0;                                        // guarded by mu
    bool started = false, accepting = false, stopped = false;  // guarded by mu
  };
  const HttpServerHandler handler_;
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace ew::runtime
