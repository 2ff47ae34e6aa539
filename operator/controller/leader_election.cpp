#include "controller/leader_election.h"

#include <spdlog/spdlog.h>

#include <ctime>

namespace ew::controller {

using kube::Json;
namespace resources = kube::resources;

std::string microTime(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(micros));
  return out;
}

LeaderElector::LeaderElector(kube::KubeApi& api, LeaseConfig config, const TimeSource& clock)
    : api_(api), config_(std::move(config)), clock_(clock) {}

bool LeaderElector::tryAcquireOrRenew() {
  const std::string now = microTime(clock_.wallNow());
  const int durationSeconds = static_cast<int>((config_.leaseDuration.count() + 999) / 1000);
  auto current = api_.get(resources::kLease, config_.ns, config_.name);
  if (!current) {
    if (current.error().code != 404) return false;
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.name}, {"namespace", config_.ns}}},
                  {"spec",
                   {{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", durationSeconds},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    auto created = api_.create(resources::kLease, config_.ns, lease);
    return created.ok();
  }
  Json lease = *current;
  Json& spec = lease["spec"];
  const std::string holder = spec.value("holderIdentity", "");
  const std::string record =
      holder + "|" + spec.value("renewTime", "") + "|" + lease["metadata"].value("resourceVersion", "");
  if (record != observedRecord_) {
    observedRecord_ = record;
    observedAt_ = clock_.now();
  }
  const bool mine = holder == config_.identity;
  if (!mine && !holder.empty() && clock_.now() < observedAt_ + config_.leaseDuration) return false;
  if (!mine) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = durationSeconds;
  spec["renewTime"] = now;
  auto updated = api_.replace(resources::kLease, config_.ns, config_.name, lease);  // 409 if someone raced us
  if (!updated) return false;
  observedRecord_ = config_.identity + "|" + now + "|" + (*updated)["metadata"].value("resourceVersion", "");
  observedAt_ = clock_.now();
  return true;
}

void LeaderElector::release() {
  auto current = api_.get(resources::kLease, config_.ns, config_.name);
  if (!current || (*current)["spec"].value("holderIdentity", "") != config_.identity) return;
  Json lease = *current;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = microTime(clock_.wallNow());
  // Best effort: when the release fails, the others take over after the lease
  // duration instead of at once.
  if (auto r = api_.replace(resources::kLease, config_.ns, config_.name, lease); !r)
    spdlog::warn("cannot release Lease {}/{} (the next leader waits out its duration): {}", config_.ns, config_.name,
                 r.error().message);
}

bool LeaderElector::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopped_.load(); });
}

void LeaderElector::stop() {
  stopped_ = true;
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

bool LeaderElector::run(const std::function<void()>& onStarted, const std::function<void()>& onStopped) {
  while (!stopped_ && !tryAcquireOrRenew()) sleepFor(config_.retryPeriod);
  if (stopped_) return true;
  leader_ = true;
  onStarted();
  auto lastRenew = clock_.now();
  while (sleepFor(config_.retryPeriod)) {
    if (tryAcquireOrRenew()) {
      lastRenew = clock_.now();
    } else if (clock_.now() - lastRenew > config_.renewDeadline) {
      break;  // lost: somebody else may hold it now
    }
  }
  leader_ = false;
  const bool graceful = stopped_;
  onStopped();  // our writers stop before anyone else may start
  if (graceful) release();
  return graceful;
}

}  // namespace ew::controller
