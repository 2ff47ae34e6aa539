#pragma once
// What the unit tests of the dispatcher and the sources share (not linked
// into the runtime): their config, a dispatcher on a test handler and clock,
// and a source's loop on a thread of its own.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/config.h"
#include "loops/dispatcher.h"
#include "loops/source.h"

namespace ew::runtime {

// Worker w of service s in namespace shop, the noop handler kind (the tests
// pass their own Handler), and one subscription, orders on topic orders at
// route /events/orders. SOURCE: the lines under "source:"; SUBSCRIPTION: more lines of the
// subscription (indented by two); TOP: more top-level lines (e.g. server:).
inline RuntimeConfig testConfig(const std::string& source, const std::string& subscription,
                                const std::string& top = "") {
  auto c = parseConfig("apiVersion: runtime.eventworker.dev/v1\nworker: w\nnamespace: shop\nservice: s\nsource:\n" +
                       source + "handler: {kind: noop}\n" + top +
                       "subscriptions:\n- name: orders\n  topic: orders\n  route: /events/orders\n" + subscription);
  if (!c) throw std::invalid_argument("test config: " + c.error().message);
  return *c;
}

// A dispatcher (not started) calling HANDLER, with back-off jitter 0.5.
// METRICS and TIME must outlive it.
inline std::unique_ptr<Dispatcher> testDispatcher(const RuntimeConfig& config, HandlerPtr handler,
                                                  MetricsRegistry& metrics, const TimeSource& time) {
  DispatcherDeps deps;
  deps.time = &time;
  deps.handler = std::move(handler);
  deps.metrics = &metrics;
  deps.random = [] { return 0.5; };
  return std::make_unique<Dispatcher>(config, std::move(deps));
}

// SOURCE's run() on a thread of its own from construction; the destructor
// joins it (stop the source first).
class SourceLoop {
 public:
  explicit SourceLoop(Source& source)
      : thread_([this, &source] {
          const bool drained = source.run();
          std::lock_guard l(mu_);
          drained_ = drained;
          finished_ = true;
          done_.notify_all();
        }) {}
  ~SourceLoop() { join(); }
  // True once run() returned, waiting up to WITHIN (real time) for it.
  bool finished(std::chrono::milliseconds within = std::chrono::milliseconds(0)) {
    std::unique_lock l(mu_);
    return done_.wait_for(l, within, [&] { return finished_; });
  }
  bool drained() {
    std::lock_guard l(mu_);
    return drained_;
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  bool finished_ = false, drained_ = false;  // guarded by mu_
  std::thread thread_;                       // last: started once the rest is made
};

}  // namespace ew::runtime
