#pragma once
// The handler container of the runtime tests: an HTTP/1.1 server on
// 127.0.0.1 that records every event it is sent (a ledger) and answers as
// the test says.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ew::rttest {

// One handled request, as the ledger saw it.
struct LedgerEntry {
  std::string id;    // CloudEvent id
  std::string key;   // data.key of the test payload ("" when absent)
  int64_t seq = -1;  // data.seq of the test payload
  std::string route;
  int attempt = 1;  // 1 for the first request with this id, 2 for the next, ...
  std::chrono::steady_clock::time_point at;
};

// An HTTP/1.1 server on 127.0.0.1 (keep-alive, one thread per connection)
// that plays the handler container. RESPOND decides the status of each
// request (default 200); it is called concurrently.
class Ledger {
 public:
  using Respond = std::function<int(const LedgerEntry&)>;
  Ledger();
  ~Ledger();
  int port() const { return port_; }
  void setRespond(Respond respond);
  void setDelay(std::chrono::microseconds delay) { delayUs_ = delay.count(); }
  // Closes each connection after its Nth reply (0: never), announcing it with
  // "Connection: close" when ANNOUNCE, else just closing the socket.
  void setCloseEvery(int n, bool announce) {
    closeEvery_ = n;
    announceClose_ = announce;
  }
  int connections() const { return connections_.load(); }  // accepted so far

  std::vector<LedgerEntry> entries() const;
  size_t count() const;
  // Distinct ids seen.
  size_t distinct() const;
  // Requests with ID so far (whatever their replies).
  int attempts(const std::string& id) const;
  // Times a request arrived while another one with the same key was in progress.
  int overlaps() const { return overlaps_.load(); }
  // Waits until PRED(ledger) or TIMEOUT; returns PRED's last value.
  bool waitFor(const std::function<bool(const Ledger&)>& pred, std::chrono::seconds timeout) const;

 private:
  void acceptLoop();
  void serve(int fd);
  int handle(const std::string& path, const std::string& body);

  int listenFd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> delayUs_{0};
  std::atomic<int> overlaps_{0};
  std::atomic<int> closeEvery_{0};
  std::atomic<bool> announceClose_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<int> connFds_;
  std::vector<LedgerEntry> entries_;
  std::set<std::string> ids_;
  std::map<std::string, int> inFlight_;
  std::map<std::string, int> attempts_;
  Respond respond_;
};

}  // namespace ew::rttest
