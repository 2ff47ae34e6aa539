#pragma once
// Records core/v1 Events about an object (created, pruned, degraded, ...), so
// `kubectl describe eventworker` tells the story. Best effort: a failure to
// record is logged by the caller's policy, never fatal. Thread-safe.

#include <atomic>
#include <string>

#include "kube/api.h"

namespace ew::controller {

class EventRecorder {
 public:
  explicit EventRecorder(kube::KubeApi& api, std::string component = "eventworker-operator")
      : api_(api), component_(std::move(component)) {}

  // type: "Normal" or "Warning". involved: the object the event is about.
  void record(const kube::Json& involved, const std::string& type, const std::string& reason,
              const std::string& message, const std::string& now);

 private:
  kube::KubeApi& api_;
  std::string component_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace ew::controller
