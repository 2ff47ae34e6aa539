#include "controller/autoscaler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "controller/worker_labels.h"

namespace ew::controller {

using autoscale::Decision;
using autoscale::Observation;

bool ScaleTarget::operator==(const ScaleTarget& o) const {
  const auto& a = policy;
  const auto& b = o.policy;
  return cluster == o.cluster && group == o.group && topics == o.topics && offsetReset == o.offsetReset &&
         pollInterval == o.pollInterval && a.minReplicas == b.minReplicas && a.maxReplicas == b.maxReplicas &&
         a.lagThreshold == b.lagThreshold && a.activationLagThreshold == b.activationLagThreshold &&
         a.targetDrainSeconds == b.targetDrainSeconds &&
         a.scaleDownStabilizationSeconds == b.scaleDownStabilizationSeconds &&
         a.fallback.failureThreshold == b.fallback.failureThreshold && a.fallback.replicas == b.fallback.replicas &&
         a.cooldownSeconds == b.cooldownSeconds && a.maxScaleDownPercent == b.maxScaleDownPercent &&
         a.allowIdleConsumers == b.allowIdleConsumers && a.predictive == b.predictive;
}

Autoscaler::Autoscaler(LagReadFn read, std::function<std::optional<int>(const std::string&)> currentReplicas,
                       std::function<void(const std::string&)> onChange, MetricsRegistry& metrics,
                       std::function<double()> random01, std::function<Millis()> now)
    : read_(std::move(read)),
      currentReplicas_(std::move(currentReplicas)),
      onChange_(std::move(onChange)),
      metrics_(metrics),
      random01_(std::move(random01)),
      now_(std::move(now)) {}

Autoscaler::~Autoscaler() { stop(); }

Autoscaler::Millis Autoscaler::jittered(Millis interval) {
  return Millis(static_cast<int64_t>(static_cast<double>(interval.count()) * (0.9 + 0.2 * random01_())));
}

void Autoscaler::track(const std::string& key, const ScaleTarget& target) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (e.target == target) return;
    if (e.target.cluster != target.cluster || e.target.group != target.group || e.target.topics != target.topics) {
      e.state = {};  // other partitions: the policy's memory no longer applies
      e.decision.reset();
    }
    e.target = target;
    e.nextDue = now_();  // a changed spec is looked at promptly
    cv_.notify_all();
    return;
  }
  Entry e;
  e.target = target;
  // Spread first polls over the interval so a restart with many EventWorkers
  // is not one burst.
  e.nextDue =
      now_() + Millis(static_cast<int64_t>(
                   random01_() * static_cast<double>(std::chrono::duration_cast<Millis>(target.pollInterval).count())));
  entries_.emplace(key, std::move(e));
  cv_.notify_all();
}

void Autoscaler::untrack(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  const Labels labels = workerLabels(key);
  metrics_.forgetGauge("eventworker_desired_replicas", labels);
  metrics_.forgetGauge("eventworker_max_replicas", labels);
  metrics_.forgetGauge("eventworker_lag_fallback", labels);
  metrics_.forgetGauge("eventworker_consumer_lag", labels);
  metrics_.forgetGauge("eventworker_stalled_partitions", labels);
  metrics_.forgetCounter("eventworker_lag_poll_failures_total", labels);  // incremented under mu_ too
  if (it->second.decision)
    for (const auto& [topic, lag] : it->second.decision->lagByTopic) {
      auto l = labels;
      l["topic"] = topic;
      metrics_.forgetGauge("eventworker_consumer_lag_by_topic", l);
    }
  entries_.erase(it);
}

std::optional<Decision> Autoscaler::decision(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.decision;
}

size_t Autoscaler::tracked() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void Autoscaler::exportMetrics(const std::string& key, const Entry& e) {
  const Decision& d = *e.decision;
  const Labels labels = workerLabels(key);
  metrics_.gauge("eventworker_desired_replicas", "Replicas the autoscaler wants for the events Deployment.", labels)
      .set(d.desiredReplicas);
  metrics_
      .gauge("eventworker_lag_fallback",
             "1 while failureThreshold lag polls in a row have failed and the fallback replicas are held.", labels)
      .set(d.reason == autoscale::Reason::Fallback ? 1 : 0);
  if (d.reason == autoscale::Reason::MetricsFailed || d.reason == autoscale::Reason::Fallback) return;
  // The policy's upper bound (DESIGN.md section 5): maxReplicas, and no more
  // replicas than partitions unless idle consumers are allowed; never below
  // minReplicas. Known once a poll has counted the partitions.
  const auto& policy = e.target.policy;
  int most = policy.maxReplicas;
  if (!policy.allowIdleConsumers) most = std::min(most, d.partitions);
  metrics_
      .gauge("eventworker_max_replicas",
             "The most replicas the autoscaler may run: maxReplicas, limited to the partition count.", labels)
      .set(std::max({most, policy.minReplicas, 1}));
  metrics_.gauge("eventworker_consumer_lag", "Consumer lag of the worker's group at the last poll.", labels)
      .set(static_cast<double>(d.totalLag));
  metrics_.gauge("eventworker_stalled_partitions", "Partitions with lag whose committed offset does not move.", labels)
      .set(static_cast<double>(d.stalled.size()));
  for (const auto& [topic, lag] : d.lagByTopic) {
    auto l = labels;
    l["topic"] = topic;
    metrics_.gauge("eventworker_consumer_lag_by_topic", "Consumer lag per topic at the last poll.", l)
        .set(static_cast<double>(lag));
  }
}

void Autoscaler::publish(const std::string& key, Entry& e, Millis now, std::vector<std::string>& changed) {
  const Decision& d = *e.decision;
  // What the reconciler writes, without the figures that move every poll.
  std::string fp = std::to_string(d.desiredReplicas) + "|" + autoscale::reasonName(d.reason) + "|" +
                   (d.degraded ? "degraded" : "") + "|" + std::to_string(d.stalled.size()) + "|" +
                   std::to_string(d.burstPeriodSeconds.value_or(0));
  for (const auto& [topic, lag] : d.lagByTopic) fp += "|" + topic + (lag > 0 ? "+" : "0");
  auto live = currentReplicas_(key);
  const bool replicasDiffer = live && *live != d.desiredReplicas;
  if (fp != e.publishedFingerprint || replicasDiffer || now - e.publishedAt >= kStatusRefresh) {
    e.publishedFingerprint = std::move(fp);
    e.publishedAt = now;
    changed.push_back(key);
  }
}

void Autoscaler::observe(const std::string& key, LagResult result, Millis now, std::vector<std::string>& changed) {
  auto live = currentReplicas_(key);
  if (!live) return;  // the events Deployment does not exist yet
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;  // untracked while reading
  Entry& e = it->second;
  autoscale::PolicyStep step;
  if (result.ok()) {
    Observation obs;
    obs.now = now;
    obs.currentReplicas = *live;
    obs.offsetReset = e.target.offsetReset;
    obs.partitions = std::move(*result);
    step = autoscale::policyPoll(e.state, e.target.policy, obs);
  } else {
    step = autoscale::policyFailed(e.state, e.target.policy, *live);
    step.decision.message = result.error().message + " (" + step.decision.message + ")";
    metrics_.counter("eventworker_lag_poll_failures_total", "Lag polls that failed.", workerLabels(key)).inc();
  }
  e.state = std::move(step.state);
  e.decision = std::move(step.decision);
  exportMetrics(key, e);
  publish(key, e, now, changed);
}

Autoscaler::Millis Autoscaler::pollDue(Millis now) {
  struct Due {
    std::string key;
    LagQuery query;
  };
  std::map<KafkaAccess, std::vector<Due>> byCluster;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, e] : entries_) {
      if (e.nextDue > now) continue;
      byCluster[e.target.cluster].push_back({key, {e.target.group, e.target.topics}});
      e.nextDue = now + jittered(std::chrono::duration_cast<Millis>(e.target.pollInterval));
    }
  }
  std::vector<std::string> changed;
  if (!byCluster.empty()) {
    // Clusters in parallel; one batched read each.
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::pair<const std::vector<Due>*, std::future<std::vector<LagResult>>>> reads;
    for (const auto& [cluster, due] : byCluster) {
      std::vector<LagQuery> queries;
      for (const auto& d : due) queries.push_back(d.query);
      reads.emplace_back(&due, std::async(std::launch::async, [this, cluster = cluster, queries = std::move(queries)] {
        return read_(cluster, queries);
      }));
    }
    for (auto& [due, future] : reads) {
      std::vector<LagResult> results;
      std::string failure = "lag read returned no result";
      try {
        results = future.get();
      } catch (const std::exception& ex) {
        failure = std::string("lag read failed: ") + ex.what();
      }
      for (size_t i = 0; i < due->size(); ++i)
        observe((*due)[i].key, i < results.size() ? std::move(results[i]) : LagResult(Error{failure}), now, changed);
    }
    metrics_.histogram("eventworker_lag_poll_duration_seconds", "Time to read one batch of lag (all clusters).")
        .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  for (const auto& key : changed) onChange_(key);
  std::lock_guard lock(mu_);
  Millis next = now + Millis(60000);
  for (const auto& [key, e] : entries_) next = std::min(next, e.nextDue);
  return next;
}

void Autoscaler::run() {
  while (!stopped_) {
    const Millis next = pollDue(now_());
    std::unique_lock lock(mu_);
    // Sleep to the next due poll, in whole ticks so that polls due close
    // together share one batch; wake early when a target is added.
    Millis wait = std::max(next - now_(), Millis(0));
    wait = ((wait + kTick - Millis(1)) / kTick) * kTick;
    cv_.wait_for(lock, std::max(wait, kTick), [this, next] {
      if (stopped_) return true;
      for (const auto& [key, e] : entries_)
        if (e.nextDue < next) return true;
      return false;
    });
  }
}

void Autoscaler::stop() {
  stopped_ = true;
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

int scaledReplicas(const std::optional<Decision>& decision, std::optional<int> live, int rendered,
                   const autoscale::PolicyConfig& bounds) {
  const int r = decision ? decision->desiredReplicas : live.value_or(rendered);
  return std::clamp(r, bounds.minReplicas, bounds.maxReplicas);
}

}  // namespace ew::controller
