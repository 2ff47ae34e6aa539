#pragma once
// Polls the outbox pods of every EventWorker with spec.outbox: GET /status on
// each pod's runtime port (the relays count their own tables; the operator
// never reads the database Secret) every kPollInterval, shapes the replies
// with observeOutbox() (outbox_status.h) and keeps the view per EventWorker.
// Like the autoscaler (autoscaler.h) it writes nothing itself: when the view
// changes in a way status must show at once (the condition, a relay turning
// stale, a backlog appearing or draining, the active pod), or kStatusRefresh
// after the last time, it publishes the view and calls onChange(key); the
// reconciler writes view(key) into status through its one apply path. A
// converged resync therefore writes nothing between two publishes.
//
// Failure handling follows the lag reads: a pod that does not answer within
// the reader's timeout fails its read only; the relay keeps its last figures,
// marked stale (StatusUnreadable), and the next poll tries again. Pods of one
// poll are read in parallel, kParallelReads at a time.
//
// Thread-safe. run() blocks until stop().

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/outbox_status.h"
#include "ew/result.h"
#include "ew/time_source.h"

namespace ew::controller {

// What to poll for one EventWorker.
struct OutboxTarget {
  std::vector<std::string> relays;  // spec.outbox[].name, in order
  int port = 9090;                  // spec.runtime.metricsPort: the runtime's /status
  bool operator==(const OutboxTarget&) const = default;
};

struct OutboxPod {
  std::string name, ip;
};
// The running outbox pods of KEY (namespace/name) with an IP.
using OutboxPodsFn = std::function<std::vector<OutboxPod>(const std::string& key)>;
// GET http://IP:PORT/status, parsed. Thread-safe; bounded by its own timeout.
using PodStatusReadFn = std::function<Result<nlohmann::json>(const std::string& ip, int port)>;

class OutboxMonitor {
 public:
  using Millis = std::chrono::milliseconds;
  // POLL_INTERVAL: how often each worker's pods are read (kPollInterval).
  OutboxMonitor(PodStatusReadFn read, OutboxPodsFn pods, std::function<void(const std::string& key)> onChange,
                const TimeSource& time, Millis pollInterval = kPollInterval);
  ~OutboxMonitor();

  void track(const std::string& key, const OutboxTarget& target);
  void untrack(const std::string& key);
  // The view last published for KEY; nullopt before the first poll.
  std::optional<OutboxView> view(const std::string& key) const;

  // Polls every target due; returns how long until the next is due.
  Millis pollDue();
  void run();
  void stop();

  static constexpr Millis kPollInterval{10000};
  static constexpr Millis kStatusRefresh{30000};
  // Pods read at once: a poll of many workers reads them in waves.
  static constexpr size_t kParallelReads = 16;

 private:
  struct Entry {
    OutboxTarget target;
    OutboxView view;                      // after the last poll
    std::optional<OutboxView> published;  // what view() returns
    std::string publishedFingerprint;
    MonoTime publishedAt{};
    MonoTime nextDue{};
  };
  // One target due for a poll, with its pods.
  struct Due {
    std::string key;
    OutboxTarget target;
    std::vector<OutboxPod> pods;
  };
  // Each Due's pods read: reads[i][j] of due[i].pods[j].
  using Reads = std::vector<std::vector<Result<nlohmann::json>>>;

  std::vector<Due> takeDue(MonoTime now);
  Reads readPods(const std::vector<Due>& due);
  // Folds the reads into each entry's view; returns the keys whose published view changed.
  std::vector<std::string> observe(const std::vector<Due>& due, Reads& reads, MonoTime now);
  Millis untilNextDue(MonoTime now) const;

  PodStatusReadFn read_;
  const Millis pollInterval_;
  OutboxPodsFn pods_;
  std::function<void(const std::string&)> onChange_;
  const TimeSource& time_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
  std::atomic<bool> stopped_{false};
};

// Reads a runtime's /status over plain HTTP (kube/plain_http.h), each read
// bounded by TIMEOUT; a reply but 200, or a body that is not JSON, is an Error.
PodStatusReadFn httpPodStatusReader(std::chrono::milliseconds timeout);

// The running outbox pods of one EventWorker among PODS (slimPod()s of its
// pods): component outbox, an IP, not being deleted.
std::vector<OutboxPod> outboxPods(const std::vector<nlohmann::json>& pods);

}  // namespace ew::controller
