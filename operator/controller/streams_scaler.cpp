#include "controller/streams_scaler.h"

#include <algorithm>

#include "controller/worker_labels.h"

namespace ew::controller {

using Json = nlohmann::json;

namespace {

constexpr autoscale::StreamsReason kReasons[] = {
    autoscale::StreamsReason::Clients, autoscale::StreamsReason::Bounds, autoscale::StreamsReason::Stabilizing,
    autoscale::StreamsReason::PartialRead, autoscale::StreamsReason::Unreadable};

}  // namespace

std::optional<std::int64_t> streamClientsOf(const Result<Json>& status) {
  if (!status || !status->is_object() || !status->contains("streams") || !(*status)["streams"].is_array())
    return std::nullopt;
  std::int64_t clients = 0;
  for (const auto& s : (*status)["streams"]) {
    if (!s.is_object() || !s.contains("clients") || !s["clients"].is_number_integer()) return std::nullopt;
    clients += s["clients"].get<std::int64_t>();
  }
  return clients;
}

StreamsScaler::StreamsScaler(PodStatusReadFn read, RunningPodsFn pods,
                             std::function<std::optional<int>(const std::string& key)> currentReplicas,
                             std::function<void(const std::string& key)> onChange, MetricsRegistry& metrics,
                             const TimeSource& time, Millis pollInterval)
    : KeyedPoller(time, pollInterval),
      read_(std::move(read)),
      pods_(std::move(pods)),
      currentReplicas_(std::move(currentReplicas)),
      onChange_(std::move(onChange)),
      metrics_(metrics) {}

StreamsScaler::~StreamsScaler() { stop(); }

std::optional<StreamsView> StreamsScaler::view(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state.published;
}

void StreamsScaler::exportMetrics(const std::string& key, const autoscale::StreamsDecision& d, int before) {
  const Labels labels = workerLabels(key);
  metrics_
      .gauge("eventworker_streams_clients", "SSE clients the streams pods that answered counted at the last poll.",
             labels)
      .set(static_cast<double>(d.clients));
  metrics_.gauge("eventworker_streams_pods_read", "Streams pods that answered GET /status at the last poll.", labels)
      .set(d.podsRead);
  metrics_
      .gauge("eventworker_streams_desired_replicas", "Replicas the streams scaler wants for the streams Deployment.",
             labels)
      .set(d.desiredReplicas);
  if (d.desiredReplicas == before) return;
  Labels l = labels;
  l["reason"] = autoscale::streamsReasonName(d.reason);
  metrics_
      .counter("eventworker_streams_scale_events_total",
               "Decisions of the streams scaler that changed the desired replicas, by reason.", l)
      .inc();
}

void StreamsScaler::forget(const std::string& key, Entry&) {
  const Labels labels = workerLabels(key);
  for (const char* name :
       {"eventworker_streams_clients", "eventworker_streams_pods_read", "eventworker_streams_desired_replicas"})
    metrics_.forgetGauge(name, labels);
  for (auto reason : kReasons) {
    Labels l = labels;
    l["reason"] = autoscale::streamsReasonName(reason);
    metrics_.forgetCounter("eventworker_streams_scale_events_total", l);
  }
}

bool StreamsScaler::observe(const std::string& key, Entry& e, int currentReplicas,
                            const std::vector<Result<Json>>& reads, MonoTime now, const std::string& wallNow) {
  autoscale::StreamsObservation o{std::chrono::duration_cast<Millis>(now.time_since_epoch()), currentReplicas, {}};
  for (const auto& r : reads) o.podClients.push_back(streamClientsOf(r));
  StreamsPollState& s = e.state;
  auto step = autoscale::streamsPoll(s.policy, e.target.policy, o);
  s.policy = std::move(step.state);
  const auto& d = step.decision;
  const auto* last = s.published ? &s.published->decision : nullptr;
  exportMetrics(key, d, last ? last->desiredReplicas : currentReplicas);
  const bool due = !last || d.desiredReplicas != last->desiredReplicas || d.reason != last->reason ||
                   d.podsRead != last->podsRead || d.pods != last->pods || now - s.publishedAt >= kStatusRefresh;
  if (!due) return false;
  s.published = StreamsView{d, wallNow};
  s.publishedAt = now;
  return true;
}

StreamsScaler::Millis StreamsScaler::pollDue() {
  const MonoTime now = time_.now();
  std::vector<Due> due = takeDue(now);
  // Outside mu_: these read the stores. A worker without its Deployment yet is not polled.
  std::vector<int> replicas;
  std::vector<std::vector<RunningPod>> pods;
  std::erase_if(due, [&](const Due& d) {
    const auto current = currentReplicas_(d.key);
    if (!current) return true;
    replicas.push_back(*current);
    pods.push_back(pods_(d.key));
    return false;
  });
  std::vector<PodStatusRequest> requests;
  for (size_t i = 0; i < due.size(); ++i)
    for (const auto& pod : pods[i]) requests.push_back({pod.ip, due[i].target.port});
  auto results = readPodStatuses(read_, requests, kParallelReads);
  const std::string wallNow = rfc3339(time_.wallNow());
  std::vector<std::string> changed;
  auto from = results.begin();
  for (size_t i = 0; i < due.size(); ++i) {
    const auto to = from + static_cast<std::ptrdiff_t>(pods[i].size());
    const std::vector<Result<Json>> reads(std::make_move_iterator(from), std::make_move_iterator(to));
    from = to;
    std::lock_guard lock(mu_);
    if (Entry* e = stillTracked(due[i]); e && observe(due[i].key, *e, replicas[i], reads, now, wallNow))
      changed.push_back(due[i].key);
  }
  for (const auto& key : changed) onChange_(key);
  return untilNextDue(now);
}

}  // namespace ew::controller
