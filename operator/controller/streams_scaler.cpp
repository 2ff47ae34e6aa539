#include "controller/streams_scaler.h"

#include <algorithm>

namespace ew::controller {

using Json = nlohmann::json;

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
                             std::function<void(const std::string& key)> onChange, const TimeSource& time,
                             Millis pollInterval)
    : KeyedPoller(time, pollInterval),
      read_(std::move(read)),
      pods_(std::move(pods)),
      currentReplicas_(std::move(currentReplicas)),
      onChange_(std::move(onChange)) {}

StreamsScaler::~StreamsScaler() { stop(); }

std::optional<StreamsView> StreamsScaler::view(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state.published;
}

bool StreamsScaler::observe(Entry& e, int currentReplicas, const std::vector<Result<Json>>& reads, MonoTime now,
                            const std::string& wallNow) {
  autoscale::StreamsObservation o{std::chrono::duration_cast<Millis>(now.time_since_epoch()), currentReplicas, {}};
  for (const auto& r : reads) o.podClients.push_back(streamClientsOf(r));
  StreamsPollState& s = e.state;
  auto step = autoscale::streamsPoll(s.policy, e.target.policy, o);
  s.policy = std::move(step.state);
  const auto& d = step.decision;
  const auto* last = s.published ? &s.published->decision : nullptr;
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
    if (Entry* e = stillTracked(due[i]); e && observe(*e, replicas[i], reads, now, wallNow))
      changed.push_back(due[i].key);
  }
  for (const auto& key : changed) onChange_(key);
  return untilNextDue(now);
}

}  // namespace ew::controller
