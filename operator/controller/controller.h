#pragma once
// The EventWorker controller: watchers feed a work queue with keys (owned
// objects map to their EventWorker by the eventworker.dev/name label); worker
// threads run the reconciler; failures requeue with per-key backoff; every
// EventWorker is resynced periodically. start()/stop() from one thread;
// stop() lets in-flight reconciles finish.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "controller/autoscaler.h"
#include "controller/desired_state.h"
#include "controller/event_recorder.h"
#include "controller/reconciler.h"
#include "controller/work_queue.h"
#include "ew/metrics.h"
#include "kube/watcher.h"

namespace ew::controller {

struct ControllerOptions {
  std::string ns;  // "" = all namespaces
  int workers = 2;
  std::chrono::seconds resyncPeriod{600};
  bool daprSubscriptions = false;  // watch and own dapr.io Subscriptions (the CRD exists)
  // Reads consumer lag for the autoscaler; empty: no autoscaling (the events
  // Deployments keep their rendered or live replicas).
  LagReadFn lagReader;
  // Kafka access of spec.migrateFrom (reading the API group, copying offsets).
  MigrationKafka migrationKafka;
  // Reads the runtime pods' /status: the outbox pods' for status.outbox, the
  // streams pods' to scale the streams Deployments on their connected clients
  // (status.streams); empty: neither (the streams Deployments keep their
  // rendered or live replicas).
  PodStatusReadFn podStatusReader;
  // Time for the work queue's back-off, the first-status wait, the
  // autoscaler's poll schedule and status timestamps.
  const TimeSource* time = &systemTime();
};

class Controller {
 public:
  Controller(kube::Api& api, ControllerOptions options, RenderFn render, MetricsRegistry& metrics,
             std::function<double()> random01);
  ~Controller();

  void start();
  void stop();
  bool synced() const;
  // Queues every known EventWorker now (what the periodic resync does).
  void resyncAll();
  size_t queueDepth() const { return queue_.depth(); }
  // Waits until every Event recorded so far was sent (or failed), at most TIMEOUT.
  bool flushEvents(std::chrono::milliseconds timeout) { return events_.flush(timeout); }
  Autoscaler* autoscaler() { return autoscaler_.get(); }

 private:
  std::unique_ptr<Autoscaler> makeAutoscaler();
  std::unique_ptr<OutboxMonitor> makeOutboxMonitor();
  std::unique_ptr<StreamsScaler> makeStreamsScaler();
  // The running pods of COMPONENT of a worker key, from the pod store.
  RunningPodsFn podsOf(const std::string& component);
  // The spec.replicas of the Deployment <name>SUFFIX of a worker key (nullopt: none).
  std::function<std::optional<int>(const std::string&)> replicasOf(const std::string& suffix);
  // Queues KEY for a loop's new figures, unless its reconciles fail: their
  // backoff's retry reads the latest (an add now would skip the backoff).
  void figuresChanged(const std::string& key);
  void workerLoop();
  void resyncLoop();
  void onOwnedChange(const kube::Store& store, const std::string& key);
  // A pod's problem appeared, changed or went: its EventWorker is queued.
  // Pods without one queue nothing, however often they change.
  void onPodChange(const std::string& key);
  void startWatcher(const kube::ResourceType& type, kube::Store& store, std::function<void(const std::string&)> fn,
                    const std::string& selector);

  kube::Api& api_;
  ControllerOptions options_;
  MetricsRegistry& metrics_;
  std::function<double()> random01_;
  WorkQueue queue_;
  // Drops watch events that change nothing a reconcile reads (see changeFingerprint).
  bool changed(const kube::Store& store, const std::string& key);
  // Records the fingerprint of an object the reconciler just applied: its
  // watch event then enqueues nothing.
  void noteWritten(const kube::Store& store, const std::string& key);
  std::mutex fingerprintsMu_;
  std::map<std::pair<const kube::Store*, std::string>, size_t> fingerprints_;  // hash of changeFingerprint
  // Owned-object events that arrive while their owner is being reconciled are
  // judged when it finishes: most are the watch echo of the reconcile's own
  // writes, which noteWritten then recognizes.
  std::set<std::string> reconciling_;  // owner keys; guarded by fingerprintsMu_
  std::map<std::string, std::vector<std::pair<const kube::Store*, std::string>>> heldBack_;  // by owner; same
  void beginReconcile(const std::string& key);
  void endReconcile(const std::string& key);

  kube::Store eventWorkers_{"", {}, changeHash};
  // Owned objects, indexed by owner.
  kube::Store deployments_{kNameLabel, {}, changeHash}, statefulSets_{kNameLabel, {}, changeHash},
      configMaps_{kNameLabel, {}, changeHash}, subscriptions_{kNameLabel, {}, changeHash},
      services_{kNameLabel, {}, changeHash};
  kube::Store pods_{kNameLabel, slimPod};  // the workers' pods, for their problems (pod_health.h)
  // Pods that have a problem: key -> (owner key, describe() of it). Guarded by fingerprintsMu_.
  std::map<std::string, std::pair<std::string, std::string>> podProblems_;
  // Not waited for by synced(): the pods only add detail to status, and an
  // operator whose role lacks pods (an older ClusterRole) still reconciles.
  const kube::Watcher* podWatcher_ = nullptr;
  EventRecorder events_;
  std::unique_ptr<Autoscaler> autoscaler_;  // null without options.lagReader
  std::unique_ptr<OutboxMonitor> outbox_;   // null without options.podStatusReader
  std::unique_ptr<StreamsScaler> streams_;  // null without options.podStatusReader
  Reconciler reconciler_;
  std::vector<std::unique_ptr<kube::Watcher>> watchers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::mutex resyncMu_;
  std::condition_variable resyncCv_;
};

}  // namespace ew::controller
