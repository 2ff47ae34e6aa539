#pragma once
// Test clients of the streams mode: an SSE client on a socket of its own
// (blocking, every read bounded by a timeout; it can stop reading to play a
// slow client), and a loopback HTTP server standing in for the API service's
// token endpoint (the user's service, not infrastructure of the product).

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ew::rttest {

struct SseEvent {
  std::string id;     // "" when the event had no id field
  std::string event;  // "" for the default "message"
  std::string data;
};

class SseClient {
 public:
  // Connects to 127.0.0.1:PORT and sends GET PATH with HEADERS. RCVBUF > 0
  // shrinks the socket's receive buffer (set before connecting).
  SseClient(int port, const std::string& path, const std::map<std::string, std::string>& headers = {}, int rcvbuf = 0);
  // The same to HOST (an IPv4 address: a pod's on the node's bridge).
  SseClient(const std::string& host, int port, const std::string& path,
            const std::map<std::string, std::string>& headers = {}, int rcvbuf = 0);
  ~SseClient();
  // The reply's status code (reads the header), 0 when none came in TIMEOUT.
  int status(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next event, or nullopt at end of stream or after TIMEOUT.
  std::optional<SseEvent> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Events until COUNT or TIMEOUT without one.
  std::vector<SseEvent> take(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool ended() const { return eof_; }
  int retryHint() const { return retry_; }
  int comments() const { return comments_; }
  std::string body() const { return buf_; }  // after the header: what is still unparsed
  void close();

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buf_;
  int status_ = 0;
  bool headerRead_ = false, eof_ = false;
  int retry_ = -1, comments_ = 0;
};

// An HTTP server on 127.0.0.1 answering GET: 200 when the Authorization
// header is "Bearer <GOOD>", 401 otherwise. Counts the calls.
class TokenServer {
 public:
  explicit TokenServer(std::string good);
  ~TokenServer();
  int port() const { return port_; }
  int calls() const { return calls_.load(); }

 private:
  std::string good_;
  int listenFd_ = -1, port_ = 0;
  std::atomic<int> calls_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ew::rttest
