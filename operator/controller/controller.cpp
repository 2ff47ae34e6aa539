#include "controller/controller.h"

#include <spdlog/spdlog.h>

#include "controller/desired_state.h"
#include "controller/migration_metrics.h"

namespace ew::controller {

namespace resources = kube::resources;

Controller::Controller(kube::Api& api, ControllerOptions options, RenderFn render, MetricsRegistry& metrics,
                       std::function<double()> random01)
    : api_(api),
      options_(std::move(options)),
      metrics_(metrics),
      random01_(std::move(random01)),
      queue_(*options_.time),
      events_(api),
      autoscaler_(options_.lagReader ? makeAutoscaler() : nullptr),
      outbox_(options_.podStatusReader ? makeOutboxMonitor() : nullptr),
      streams_(options_.podStatusReader ? makeStreamsScaler() : nullptr),
      reconciler_(
          api, eventWorkers_,
          OwnedStores{configMaps_, deployments_, statefulSets_, options_.daprSubscriptions ? &subscriptions_ : nullptr,
                      &pods_, [this](const kube::Store& s, const std::string& k) { noteWritten(s, k); }, &services_},
          std::move(render), events_, *options_.time, autoscaler_.get(), options_.migrationKafka, outbox_.get(),
          streams_.get()) {}

void Controller::figuresChanged(const std::string& key) {
  if (queue_.failures(key) == 0) queue_.add(key);
}

RunningPodsFn Controller::podsOf(const std::string& component) {
  return [this, component](const std::string& key) {
    const auto slash = key.find('/');
    return runningPods(pods_.byIndex(key.substr(0, slash), key.substr(slash + 1)), component);
  };
}

std::function<std::optional<int>(const std::string&)> Controller::replicasOf(const std::string& suffix) {
  return [this, suffix](const std::string& key) -> std::optional<int> {
    auto d = deployments_.get(key + suffix);
    if (!d || !(*d)["spec"].contains("replicas")) return std::nullopt;
    return (*d)["spec"]["replicas"].get<int>();
  };
}

std::unique_ptr<OutboxMonitor> Controller::makeOutboxMonitor() {
  return std::make_unique<OutboxMonitor>(
      options_.podStatusReader, podsOf("outbox"), [this](const std::string& key) { figuresChanged(key); },
      *options_.time);
}

std::unique_ptr<StreamsScaler> Controller::makeStreamsScaler() {
  return std::make_unique<StreamsScaler>(
      options_.podStatusReader, podsOf("streams"), replicasOf("-streams"),
      [this](const std::string& key) { figuresChanged(key); }, metrics_, *options_.time);
}

std::unique_ptr<Autoscaler> Controller::makeAutoscaler() {
  auto currentReplicas = replicasOf("-events");
  auto now = [time = options_.time] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time->now().time_since_epoch());
  };
  return std::make_unique<Autoscaler>(
      options_.lagReader, currentReplicas, [this](const std::string& key) { figuresChanged(key); }, metrics_, random01_,
      now);
}

Controller::~Controller() { stop(); }

bool Controller::changed(const kube::Store& store, const std::string& key) {
  // A 64-bit hash of the fingerprint, not the text (ConfigMaps' data would
  // keep a copy of every runtime config in memory), computed by the store
  // when the object came in (changeHash).
  const std::optional<size_t> fp = store.fingerprint(key);
  std::lock_guard lock(fingerprintsMu_);
  const auto id = std::make_pair(&store, key);
  if (!fp) {  // a delete always counts
    fingerprints_.erase(id);
    return true;
  }
  auto it = fingerprints_.find(id);
  if (it != fingerprints_.end() && it->second == *fp) return false;
  fingerprints_[id] = *fp;
  return true;
}

void Controller::noteWritten(const kube::Store& store, const std::string& key) {
  changed(store, key);  // records its fingerprint; nothing to enqueue
}

void Controller::onOwnedChange(const kube::Store& store, const std::string& key) {
  // The owned object may be gone from the store (deleted): take the owner
  // from the key's namespace and, when known, from the label (the stores'
  // index: "namespace/owner").
  const std::optional<std::string> indexed = store.indexKeyOf(key);
  const auto slash = key.find('/');
  if (slash == std::string::npos) return;
  const std::string ns = key.substr(0, slash);
  if (indexed) {
    if (indexed->size() <= ns.size() + 1) return;  // no owner label
    const std::string& ownerKey = *indexed;
    {
      std::lock_guard lock(fingerprintsMu_);
      if (reconciling_.count(ownerKey)) {
        heldBack_[ownerKey].emplace_back(&store, key);
        return;
      }
    }
    if (changed(store, key)) queue_.add(ownerKey);
    return;
  }
  if (!changed(store, key)) return;
  // Deleted child: requeue every EventWorker of the namespace that might own it (cheap, rare).
  for (const auto& k : eventWorkers_.keys())
    if (k.compare(0, ns.size() + 1, ns + "/") == 0) queue_.add(k);
}

void Controller::onPodChange(const std::string& key) {
  auto pod = pods_.get(key);
  std::string owner, fingerprint;
  if (auto problem = pod ? podProblem(*pod) : std::nullopt) {
    const std::string label = (*pod)["metadata"].value("labels", kube::Json::object()).value(kNameLabel, "");
    if (!label.empty()) owner = (*pod)["metadata"].value("namespace", "") + "/" + label;
    fingerprint = describe({*problem});  // what status would say of it
  }
  std::string queue;
  {
    std::lock_guard lock(fingerprintsMu_);
    auto it = podProblems_.find(key);
    if (owner.empty()) {  // no problem (or gone): only news when it had one
      if (it == podProblems_.end()) return;
      queue = it->second.first;
      podProblems_.erase(it);
    } else {
      if (it != podProblems_.end() && it->second.second == fingerprint) return;
      podProblems_[key] = {owner, fingerprint};
      queue = owner;
    }
  }
  queue_.add(queue);
}

void Controller::beginReconcile(const std::string& key) {
  std::lock_guard lock(fingerprintsMu_);
  reconciling_.insert(key);
}

void Controller::endReconcile(const std::string& key) {
  std::vector<std::pair<const kube::Store*, std::string>> held;
  {
    std::lock_guard lock(fingerprintsMu_);
    reconciling_.erase(key);
    auto it = heldBack_.find(key);
    if (it == heldBack_.end()) return;
    held = std::move(it->second);
    heldBack_.erase(it);
  }
  bool any = false;
  for (const auto& [store, objKey] : held) any = changed(*store, objKey) || any;
  if (any) queue_.add(key);
}

void Controller::startWatcher(const kube::ResourceType& type, kube::Store& store,
                              std::function<void(const std::string&)> fn, const std::string& selector) {
  kube::WatcherOptions o;
  o.ns = options_.ns;
  o.labelSelector = selector;
  watchers_.push_back(std::make_unique<kube::Watcher>(api_, type, o, store, std::move(fn), random01_));
  kube::Watcher* w = watchers_.back().get();
  threads_.emplace_back([w] { w->run(); });
}

void Controller::start() {
  startWatcher(
      resources::kEventWorker, eventWorkers_,
      [this](const std::string& k) {
        if (changed(eventWorkers_, k)) queue_.add(k);
      },
      "");
  startWatcher(
      resources::kDeployment, deployments_, [this](const std::string& k) { onOwnedChange(deployments_, k); },
      kNameLabel);
  startWatcher(
      resources::kStatefulSet, statefulSets_, [this](const std::string& k) { onOwnedChange(statefulSets_, k); },
      kNameLabel);
  startWatcher(
      resources::kConfigMap, configMaps_, [this](const std::string& k) { onOwnedChange(configMaps_, k); }, kNameLabel);
  startWatcher(
      resources::kService, services_, [this](const std::string& k) { onOwnedChange(services_, k); }, kNameLabel);
  if (options_.daprSubscriptions)
    startWatcher(
        resources::kDaprSubscription, subscriptions_,
        [this](const std::string& k) { onOwnedChange(subscriptions_, k); }, kNameLabel);
  startWatcher(
      resources::kPod, pods_, [this](const std::string& k) { onPodChange(k); }, kNameLabel);
  podWatcher_ = watchers_.back().get();
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { workerLoop(); });
  if (autoscaler_) threads_.emplace_back([this] { autoscaler_->run(); });
  if (outbox_) threads_.emplace_back([this] { outbox_->run(); });
  if (streams_) threads_.emplace_back([this] { streams_->run(); });
  threads_.emplace_back([this] { resyncLoop(); });
}

bool Controller::synced() const {
  for (const auto& w : watchers_)
    if (w.get() != podWatcher_ && !w->synced()) return false;
  return !watchers_.empty();
}

void Controller::resyncAll() {
  for (const auto& k : eventWorkers_.keys()) queue_.add(k);
}

void Controller::resyncLoop() {
  std::unique_lock lock(resyncMu_);
  while (!resyncCv_.wait_for(lock, options_.resyncPeriod, [this] { return stopping_.load(); })) resyncAll();
}

void Controller::workerLoop() {
  auto& depth = metrics_.gauge("eventworker_workqueue_depth", "Keys waiting in the work queue.");
  while (!queue_.shuttingDown()) {
    depth.set(static_cast<double>(queue_.depth()));
    for (const auto& w : watchers_)
      metrics_
          .gauge("eventworker_watch_restarts", "Watch requests after the first, by resource.",
                 {{"resource", w->name()}})
          .set(static_cast<double>(w->stats().watchRestarts));
    // Reconcile only from a complete view: never prune against a half-listed store.
    if (!synced()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    auto key = queue_.get(std::chrono::milliseconds(500));
    if (!key) continue;
    const auto t0 = std::chrono::steady_clock::now();
    beginReconcile(*key);
    auto outcome = reconciler_.reconcile(*key);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string result = outcome ? "success" : "error";
    metrics_.counter("eventworker_reconcile_total", "Reconciles by result.", {{"result", result}}).inc();
    metrics_.histogram("eventworker_reconcile_duration_seconds", "Reconcile duration by result.", {{"result", result}})
        .observe(secs);
    exportMigrationPhase(metrics_, *key, eventWorkers_.get(*key));
    if (outcome) {
      metrics_.counter("eventworker_reconcile_writes_total", "API writes sent by reconciles.").inc(outcome->writes);
      queue_.forget(*key);
      // The latest reconcile decides when the key is due again.
      if (outcome->requeueAfter)
        queue_.addAfter(*key, *outcome->requeueAfter);
      else
        queue_.cancelDelayed(*key);
    } else {
      spdlog::warn("reconcile {} failed (attempt {}): {}", *key, queue_.failures(*key) + 1, outcome.error().message);
      queue_.addRateLimited(*key);
    }
    endReconcile(*key);
    queue_.done(*key);
  }
}

void Controller::stop() {
  if (stopping_.exchange(true)) return;
  for (auto& w : watchers_) w->stop();
  if (autoscaler_) autoscaler_->stop();
  if (outbox_) outbox_->stop();
  if (streams_) streams_->stop();
  queue_.shutDown();
  {
    std::lock_guard lock(resyncMu_);
    resyncCv_.notify_all();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  events_.flush(std::chrono::seconds(2));  // what the last reconciles recorded
}

}  // namespace ew::controller
