#include "controller/pod_health.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace ew::controller {

using Json = nlohmann::json;

namespace {

// Marks a literal as a Degraded reason the operator sets (hack/gen-reference.py
// checks that README's Troubleshooting table lists each).
constexpr std::string_view degradedReason(std::string_view reason) { return reason; }

// Waiting reasons of a container that will not start or keep running by
// waiting: the kubelet backs off and retries, but the pod stays unavailable
// until the image, the configuration or the program is fixed.
constexpr std::array kFailing = {
    degradedReason("ErrImagePull"),                // the pull failed (missing tag, registry refused)
    degradedReason("ImagePullBackOff"),            // ... and the kubelet backs off
    degradedReason("InvalidImageName"),            //
    degradedReason("ErrImageNeverPull"),           // imagePullPolicy Never and the image is not on the node
    degradedReason("CrashLoopBackOff"),            // the container exits, again and again
    degradedReason("CreateContainerConfigError"),  // a referenced ConfigMap/Secret/key is missing
    degradedReason("CreateContainerError"),        //
    degradedReason("RunContainerError"),           // the runtime could not start the process
};

// Status messages are for people and can be long (a pull error carries the
// registry's answer); the condition keeps the start.
constexpr size_t kMaxMessage = 240;

std::string shortened(std::string s) {
  if (s.size() > kMaxMessage) s = s.substr(0, kMaxMessage - 3) + "...";
  return s;
}

bool isFailing(const std::string& reason) {
  return std::find(kFailing.begin(), kFailing.end(), reason) != kFailing.end();
}

Json slimContainers(const Json& statuses) {
  Json out = Json::array();
  if (!statuses.is_array()) return out;
  for (const auto& c : statuses) {
    Json s = {{"name", c.value("name", "")}, {"restartCount", c.value("restartCount", 0)}};
    const Json state = c.value("state", Json::object());
    if (state.contains("waiting")) s["state"]["waiting"] = state["waiting"];
    const Json last = c.value("lastState", Json::object());
    if (last.contains("terminated") && last["terminated"].is_object()) {
      const Json& t = last["terminated"];
      s["lastState"]["terminated"] = {{"reason", t.value("reason", "")}, {"exitCode", t.value("exitCode", 0)}};
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The problem of one container, from its waiting state.
std::optional<PodProblem> containerProblem(const std::string& pod, const Json& c) {
  const Json waiting = c.value("state", Json::object()).value("waiting", Json::object());
  const std::string reason = waiting.value("reason", "");
  if (!isFailing(reason)) return std::nullopt;
  std::string message;
  if (reason == "CrashLoopBackOff") {
    // The kubelet's text ("back-off 40s restarting failed container=...")
    // changes with every back-off step; the last exit says what matters and
    // stays the same from crash to crash.
    const Json t = c.value("lastState", Json::object()).value("terminated", Json::object());
    message = "the container keeps exiting";
    if (!t.empty())
      message +=
          "; last exit: " + (t.value("reason", "").empty() ? std::string("code") : t.value("reason", "") + ", code") +
          " " + std::to_string(t.value("exitCode", 0));
  } else {
    message = shortened(waiting.value("message", ""));
  }
  return PodProblem{pod, c.value("name", ""), reason, message, true};
}

}  // namespace

Json slimPod(const Json& pod) {
  const Json meta = pod.value("metadata", Json::object());
  Json m = Json::object();
  for (const char* k : {"name", "namespace", "uid", "labels", "deletionTimestamp"})
    if (meta.contains(k)) m[k] = meta[k];
  Json out = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", m}};
  const Json status = pod.value("status", Json::object());
  Json s = Json::object();
  if (status.contains("phase")) s["phase"] = status["phase"];
  if (status.contains("podIP")) s["podIP"] = status["podIP"];  // the outbox pods' /status (outbox_monitor.h)
  for (const auto& c : status.value("conditions", Json::array()))
    if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False")
      s["conditions"] = Json::array({{{"type", "PodScheduled"},
                                      {"status", "False"},
                                      {"reason", c.value("reason", "")},
                                      {"message", shortened(c.value("message", ""))}}});
  for (const char* k : {"initContainerStatuses", "containerStatuses"})
    if (status.contains(k)) s[k] = slimContainers(status[k]);
  out["status"] = std::move(s);
  return out;
}

std::optional<PodProblem> podProblem(const Json& pod) {
  const Json meta = pod.value("metadata", Json::object());
  if (meta.contains("deletionTimestamp")) return std::nullopt;
  const std::string name = meta.value("name", "");
  const Json status = pod.value("status", Json::object());
  for (const char* k : {"initContainerStatuses", "containerStatuses"})
    for (const auto& c : status.value(k, Json::array()))
      if (auto p = containerProblem(name, c)) return p;
  for (const auto& c : status.value("conditions", Json::array()))
    if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False" &&
        c.value("reason", "") == "Unschedulable")
      return PodProblem{name, "", "Unschedulable", shortened(c.value("message", "")), false};
  return std::nullopt;
}

std::vector<PodProblem> podProblems(const std::vector<Json>& pods) {
  std::vector<PodProblem> out;
  for (const auto& p : pods)
    if (auto problem = podProblem(p)) out.push_back(std::move(*problem));
  std::sort(out.begin(), out.end(), [](const PodProblem& a, const PodProblem& b) {
    if (a.failing != b.failing) return a.failing;
    return a.pod < b.pod;
  });
  return out;
}

std::string describe(const std::vector<PodProblem>& problems, size_t max) {
  std::string out;
  const size_t shown = std::min(max, problems.size());
  for (size_t i = 0; i < shown; ++i) {
    const PodProblem& p = problems[i];
    out += (out.empty() ? "" : "; ") + std::string("pod ") + p.pod + ": ";
    if (!p.container.empty()) out += "container " + p.container + ": ";
    out += p.reason;
    if (!p.message.empty()) out += ": " + p.message;
  }
  if (problems.size() > shown)
    out += "; and " + std::to_string(problems.size() - shown) + " more pod" + (problems.size() - shown > 1 ? "s" : "");
  return out;
}

}  // namespace ew::controller
