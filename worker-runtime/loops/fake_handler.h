#pragma once
// A handler in memory for the unit tests of the dispatcher and the sources
// (not linked into the runtime): it answers by the event's data and records
// every call.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/handler.h"

namespace ew::runtime {

// The value of a test event: {"key": KEY, "seq": SEQ, "mode": MODE} (see FakeHandler).
inline std::string fakeEvent(const std::string& key, int64_t seq, const std::string& mode = "") {
  return nlohmann::json{{"key", key}, {"seq", seq}, {"mode", mode}}.dump();
}

// Answers by the event's data: "retry:N" fails N times first,
// "retry-until:SEQ" fails its first attempt and then until event SEQ was handled, "reject" is refused,
// "block" waits until released. Records every call.
class FakeHandler : public Handler {
 public:
  struct Call {
    std::string key;
    int64_t seq;
  };
  HandlerResult handle(const HandlerRequest& req) override {
    const auto body = nlohmann::json::parse(req.body);
    const auto data = body.value("data", nlohmann::json::object());
    const std::string key = data.value("key", "");
    const int64_t seq = data.value("seq", int64_t{-1});
    const std::string mode = data.value("mode", "");
    std::unique_lock l(mu_);
    ++running_;
    peak_ = std::max(peak_, running_);
    calls_.push_back({key, seq});
    const int attempt = ++attempts_[seq];
    if (mode == "block") {
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return released_; });
    }
    l.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // some work: lets other keys overlap
    l.lock();
    --running_;
    if (mode == "reject") return {Outcome::Reject, "no such customer"};
    if (mode.rfind("retry:", 0) == 0 && attempt <= std::stoi(mode.substr(6))) return {Outcome::Retry, "busy"};
    if (mode.rfind("retry-until:", 0) == 0 &&
        (attempt == 1 ||
         std::none_of(done_.begin(), done_.end(), [&](const Call& c) { return c.seq == std::stoll(mode.substr(12)); })))
      return {Outcome::Retry, "waiting"};
    done_.push_back({key, seq});
    cv_.notify_all();
    return {};
  }
  void release() {
    std::lock_guard l(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool waitDone(int64_t seq, std::chrono::milliseconds within) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, within, [&] {
      return std::any_of(done_.begin(), done_.end(), [&](const Call& c) { return c.seq == seq; });
    });
  }
  bool waitBlocked(std::chrono::milliseconds within) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, within, [&] { return blocked_; });
  }
  std::vector<Call> done() {
    std::lock_guard l(mu_);
    return done_;
  }
  int attempts(int64_t seq) {
    std::lock_guard l(mu_);
    return attempts_[seq];
  }
  size_t calls() {
    std::lock_guard l(mu_);
    return calls_.size();
  }
  int peak() {
    std::lock_guard l(mu_);
    return peak_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_, done_;
  std::map<int64_t, int> attempts_;
  int running_ = 0, peak_ = 0;
  bool blocked_ = false, released_ = false;
};

}  // namespace ew::runtime
