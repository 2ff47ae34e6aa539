#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it:
// the holder renews every retryPeriod; a candidate takes the lease only when
// the record has not changed for leaseDuration as observed on its own clock
// (no cross-node clock comparison); writes use resourceVersion preconditions so
// two candidates can never both win. release() hands the lease over at once.
//
// run() blocks until stop() or lost leadership. Callbacks run on run()'s thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "ew/time_source.h"
#include "kube/api.h"

namespace ew::controller {

struct LeaseConfig {
  std::string ns;
  std::string name = "eventworker-operator";
  std::string identity;  // unique per process, e.g. pod name + pid
  std::chrono::milliseconds leaseDuration{15000};
  std::chrono::milliseconds renewDeadline{10000};
  std::chrono::milliseconds retryPeriod{2000};
};

// Formats a system_clock time as a Kubernetes MicroTime (RFC 3339, microseconds, UTC).
std::string microTime(std::chrono::system_clock::time_point t);

class LeaderElector {
 public:
  LeaderElector(kube::KubeApi& api, LeaseConfig config, const TimeSource& clock);

  // Tries until leader (or stop()), calls onStarted, renews until stop() or a
  // renewal fails for renewDeadline, then calls onStopped. Releases the lease
  // on stop(). Returns true when it stopped because stop() was called.
  bool run(const std::function<void()>& onStarted, const std::function<void()>& onStopped);
  void stop();
  bool isLeader() const { return leader_.load(); }

  // One acquire-or-renew attempt (exposed for tests): true when we hold the lease after it.
  bool tryAcquireOrRenew();

 private:
  void release();
  bool sleepFor(std::chrono::milliseconds d);  // false when stopped meanwhile

  kube::KubeApi& api_;
  LeaseConfig config_;
  const TimeSource& clock_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::string observedRecord_;  // holder + renewTime + rv last seen
  MonoTime observedAt_{};
};

}  // namespace ew::controller
