#pragma once
// What a worker's pods say that its workloads' status does not: a container
// that cannot start (its image cannot be pulled, its configuration refers to
// something missing) or keeps crashing, and a pod no node accepts. Pure: reads
// pods as the API server reports them (after slimPod()).
//
// A container failure is Degraded (waiting does not fix it); an unschedulable
// pod is only waiting (a node may come) and is named in Ready's message.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace ew::controller {

struct PodProblem {
  std::string pod;        // the pod's name
  std::string container;  // "" for a pod-level problem (Unschedulable)
  std::string reason;     // the kubelet's or the scheduler's reason, verbatim (ImagePullBackOff, ...)
  std::string message;    // what it said, shortened; plus the last exit of a crashing container
  bool failing = false;   // true: Degraded; false: waiting (Unschedulable)
};

// The pod with only what podProblem() and the controller read: identity,
// labels, deletion, the PodScheduled condition, the containers' waiting
// and last-terminated states, and the pod's IP. What the operator keeps of each pod in memory.
nlohmann::json slimPod(const nlohmann::json& pod);

// The pod's first problem (init containers first, then containers, then
// scheduling); nullopt when it has none or is being deleted.
std::optional<PodProblem> podProblem(const nlohmann::json& pod);

// Problems of PODS, failing ones first, then by pod name.
std::vector<PodProblem> podProblems(const std::vector<nlohmann::json>& pods);

// "pod P: container C: Reason: message", and at most MAX problems in all,
// then "and N more pods".
std::string describe(const std::vector<PodProblem>& problems, size_t max = 3);

}  // namespace ew::controller
