#pragma once
// Records core/v1 Events about an object (created, pruned, degraded, ...), so
// `kubectl describe eventworker` tells the story. Best effort and off the
// reconcile path: record() queues the Event and returns; one sender thread
// creates them in order (as client-go's broadcaster does), so a burst of
// reconciles spends the API server's capacity on the objects first. When the
// queue is full the Event is dropped and counted; an Event the API server
// refuses is counted too (and logged, the first and every 100th). Thread-safe.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "kube/api.h"

namespace ew::controller {

class EventRecorder {
 public:
  explicit EventRecorder(kube::Api& api, std::string component = "eventworker-operator", size_t maxQueued = 4096);
  ~EventRecorder();  // flush() then stop

  // type: "Normal" or "Warning". involved: the object the event is about.
  void record(const kube::Json& involved, const std::string& type, const std::string& reason,
              const std::string& message, const std::string& now);
  // Waits until every queued Event was sent (or failed), at most TIMEOUT.
  bool flush(std::chrono::milliseconds timeout);
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  void sendLoop();

  kube::Api& api_;
  std::string component_;
  size_t maxQueued_;
  std::atomic<uint64_t> seq_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_{0};
  std::mutex mu_;
  std::condition_variable cv_;      // work queued, or stopping
  std::condition_variable idleCv_;  // the queue drained
  // (namespace, Event as compact JSON text); guarded by mu_. Kept as text,
  // parsed when sent: a parsed Event is a tree of some 25 nodes, about 3.5 KiB
  // of heap where its text is 0.6, and a burst of new EventWorkers queues
  // hundreds of Events while the API server is busy with their objects.
  std::deque<std::pair<std::string, std::string>> queue_;
  bool sending_ = false;  // guarded by mu_
  bool stop_ = false;     // guarded by mu_
  std::thread sender_;
};

}  // namespace ew::controller
