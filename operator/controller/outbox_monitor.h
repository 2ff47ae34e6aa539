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

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controller/keyed_poller.h"
#include "controller/outbox_status.h"
#include "controller/pod_status.h"
#include "ew/result.h"
#include "ew/time_source.h"

namespace ew::controller {

// What to poll for one EventWorker.
struct OutboxTarget {
  std::vector<std::string> relays;  // spec.outbox[].name, in order
  int port = 9090;                  // spec.runtime.metricsPort: the runtime's /status
  bool operator==(const OutboxTarget&) const = default;
};

// What the monitor keeps of one EventWorker between polls.
struct OutboxPollState {
  OutboxView view;                      // after the last poll
  std::optional<OutboxView> published;  // what view() returns
  std::string publishedFingerprint;
  MonoTime publishedAt{};
};

// track(), untrack(), run() and stop() are KeyedPoller's.
class OutboxMonitor : public KeyedPoller<OutboxTarget, OutboxPollState> {
 public:
  // POLL_INTERVAL: how often each worker's pods are read (kPollInterval).
  // PODS(key): the running outbox pods (runningPods(..., "outbox")).
  OutboxMonitor(PodStatusReadFn read, RunningPodsFn pods, std::function<void(const std::string& key)> onChange,
                const TimeSource& time, Millis pollInterval = kPollInterval);
  ~OutboxMonitor() override;

  // The view last published for KEY; nullopt before the first poll.
  std::optional<OutboxView> view(const std::string& key) const;

  Millis pollDue() override;

  static constexpr Millis kPollInterval{10000};
  static constexpr Millis kStatusRefresh{30000};
  // Pods read at once: a poll of many workers reads them in waves.
  static constexpr size_t kParallelReads = 16;

 private:
  PodStatusReadFn read_;
  RunningPodsFn pods_;
  std::function<void(const std::string&)> onChange_;
};

}  // namespace ew::controller
