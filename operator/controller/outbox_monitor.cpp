#include "controller/outbox_monitor.h"

#include <algorithm>

namespace ew::controller {

using Json = nlohmann::json;

OutboxMonitor::OutboxMonitor(PodStatusReadFn read, RunningPodsFn pods,
                             std::function<void(const std::string& key)> onChange, const TimeSource& time,
                             Millis pollInterval)
    : KeyedPoller(time, pollInterval), read_(std::move(read)), pods_(std::move(pods)), onChange_(std::move(onChange)) {}

OutboxMonitor::~OutboxMonitor() { stop(); }

std::optional<OutboxView> OutboxMonitor::view(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state.published;
}

OutboxMonitor::Millis OutboxMonitor::pollDue() {
  const MonoTime now = time_.now();
  const std::vector<Due> due = takeDue(now);
  std::vector<std::vector<RunningPod>> pods;
  for (const auto& d : due) pods.push_back(pods_(d.key));  // outside mu_: reads the pod store
  // The pods of this poll in parallel, kParallelReads at a time; each read
  // is bounded by the reader's timeout.
  std::vector<PodStatusRequest> requests;
  for (size_t i = 0; i < due.size(); ++i)
    for (const auto& pod : pods[i]) requests.push_back({pod.ip, due[i].target.port});
  auto results = readPodStatuses(read_, requests, kParallelReads);
  size_t taken = 0;
  const std::string wallNow = rfc3339(time_.wallNow());
  std::vector<std::string> changed;
  for (size_t i = 0; i < due.size(); ++i) {
    std::vector<OutboxPodRead> got;
    for (const auto& pod : pods[i]) got.push_back({pod.name, std::move(results[taken++])});
    std::lock_guard lock(mu_);
    Entry* e = stillTracked(due[i]);
    if (!e) continue;
    OutboxPollState& s = e->state;
    s.view = observeOutbox(s.view, e->target.relays, got, wallNow);
    std::string fp = outboxFingerprint(s.view);
    if (!s.published || fp != s.publishedFingerprint || now - s.publishedAt >= kStatusRefresh) {
      s.published = s.view;
      s.publishedFingerprint = std::move(fp);
      s.publishedAt = now;
      changed.push_back(due[i].key);
    }
  }
  for (const auto& key : changed) onChange_(key);
  return untilNextDue(now);
}

}  // namespace ew::controller
