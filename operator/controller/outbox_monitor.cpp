#include "controller/outbox_monitor.h"

#include <algorithm>
#include <future>

#include "kube/plain_http.h"
#include "render/names.h"

namespace ew::controller {

using Json = nlohmann::json;

OutboxMonitor::OutboxMonitor(PodStatusReadFn read, OutboxPodsFn pods,
                             std::function<void(const std::string& key)> onChange, const TimeSource& time,
                             Millis pollInterval)
    : read_(std::move(read)),
      pollInterval_(pollInterval),
      pods_(std::move(pods)),
      onChange_(std::move(onChange)),
      time_(time) {}

OutboxMonitor::~OutboxMonitor() { stop(); }

void OutboxMonitor::track(const std::string& key, const OutboxTarget& target) {
  std::lock_guard lock(mu_);
  auto [it, added] = entries_.try_emplace(key);
  if (!added && it->second.target == target) return;
  it->second.target = target;
  it->second.nextDue = time_.now();  // a new or changed spec is looked at promptly
  cv_.notify_all();
}

void OutboxMonitor::untrack(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

std::optional<OutboxView> OutboxMonitor::view(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.published;
}

OutboxMonitor::Millis OutboxMonitor::pollDue() {
  const MonoTime now = time_.now();
  const std::vector<Due> due = takeDue(now);
  Reads reads = readPods(due);
  for (const auto& key : observe(due, reads, now)) onChange_(key);
  return untilNextDue(now);
}

std::vector<OutboxMonitor::Due> OutboxMonitor::takeDue(MonoTime now) {
  std::vector<Due> due;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, e] : entries_) {
      if (e.nextDue > now) continue;
      due.push_back({key, e.target, {}});
      e.nextDue = now + pollInterval_;
    }
  }
  for (auto& d : due) d.pods = pods_(d.key);  // outside mu_: reads the pod store
  return due;
}

// The pods of this poll in parallel, at most kParallelReads at a time; each
// read is bounded by the reader's timeout.
OutboxMonitor::Reads OutboxMonitor::readPods(const std::vector<Due>& due) {
  Reads reads(due.size());
  std::vector<std::pair<size_t, size_t>> todo;  // (due index, pod index)
  for (size_t i = 0; i < due.size(); ++i)
    for (size_t j = 0; j < due[i].pods.size(); ++j) {
      reads[i].emplace_back(Error{"no reply"});
      todo.emplace_back(i, j);
    }
  for (size_t from = 0; from < todo.size(); from += kParallelReads) {
    std::vector<std::future<Result<Json>>> wave;
    const size_t to = std::min(todo.size(), from + kParallelReads);
    for (size_t k = from; k < to; ++k) {
      const auto [i, j] = todo[k];
      wave.push_back(std::async(std::launch::async,
                                [this, ip = due[i].pods[j].ip, port = due[i].target.port] { return read_(ip, port); }));
    }
    for (size_t k = from; k < to; ++k) {
      const auto [i, j] = todo[k];
      try {
        reads[i][j] = wave[k - from].get();
      } catch (const std::exception& ex) {
        reads[i][j] = Error{std::string("read failed: ") + ex.what()};
      }
    }
  }
  return reads;
}

std::vector<std::string> OutboxMonitor::observe(const std::vector<Due>& due, Reads& reads, MonoTime now) {
  const std::string wallNow = rfc3339(time_.wallNow());
  std::vector<std::string> changed;
  for (size_t i = 0; i < due.size(); ++i) {
    std::vector<OutboxPodRead> got;
    for (size_t j = 0; j < reads[i].size(); ++j) got.push_back({due[i].pods[j].name, std::move(reads[i][j])});
    std::lock_guard lock(mu_);
    auto it = entries_.find(due[i].key);
    if (it == entries_.end() || !(it->second.target == due[i].target)) continue;  // untracked or changed meanwhile
    Entry& e = it->second;
    e.view = observeOutbox(e.view, e.target.relays, got, wallNow);
    std::string fp = outboxFingerprint(e.view);
    if (!e.published || fp != e.publishedFingerprint || now - e.publishedAt >= kStatusRefresh) {
      e.published = e.view;
      e.publishedFingerprint = std::move(fp);
      e.publishedAt = now;
      changed.push_back(due[i].key);
    }
  }
  return changed;
}

OutboxMonitor::Millis OutboxMonitor::untilNextDue(MonoTime now) const {
  std::lock_guard lock(mu_);
  MonoTime next = now + pollInterval_;
  for (const auto& [key, e] : entries_) next = std::min(next, e.nextDue);
  return std::chrono::duration_cast<Millis>(std::max(next - now, MonoTime::duration::zero()));
}

void OutboxMonitor::run() {
  while (!stopped_) {
    const Millis wait = pollDue();
    std::unique_lock lock(mu_);
    const MonoTime deadline = time_.now() + wait;
    time_.wait(cv_, lock, deadline, [this, deadline] {
      if (stopped_) return true;
      for (const auto& [key, e] : entries_)
        if (e.nextDue < deadline) return true;
      return false;
    });
  }
}

void OutboxMonitor::stop() {
  stopped_ = true;
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

PodStatusReadFn httpPodStatusReader(std::chrono::milliseconds timeout) {
  return [timeout](const std::string& ip, int port) -> Result<Json> {
    auto r = kube::plainGet(ip, port, "/status", timeout);
    if (!r) return r.error();
    if (r->status != 200) return Error{"GET /status: HTTP " + std::to_string(r->status), r->status};
    Json body = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return Error{"GET /status: the reply is not JSON"};
    return body;
  };
}

std::vector<OutboxPod> outboxPods(const std::vector<Json>& pods) {
  std::vector<OutboxPod> out;
  for (const auto& p : pods) {
    const Json meta = p.value("metadata", Json::object());
    if (meta.contains("deletionTimestamp")) continue;
    if (meta.value("labels", Json::object()).value(render::kComponentLabel, "") != "outbox") continue;
    const std::string ip = p.value("status", Json::object()).value("podIP", "");
    if (ip.empty()) continue;
    out.push_back({meta.value("name", ""), ip});
  }
  return out;
}

}  // namespace ew::controller
