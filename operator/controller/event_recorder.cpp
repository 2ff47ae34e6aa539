#include "controller/event_recorder.h"

#include <unistd.h>

namespace ew::controller {

void EventRecorder::record(const kube::Json& involved, const std::string& type, const std::string& reason,
                           const std::string& message, const std::string& now) {
  const auto& meta = involved.at("metadata");
  const std::string ns = meta.value("namespace", "default");
  char suffix[40];
  std::snprintf(suffix, sizeof suffix, ".%x%llx", static_cast<unsigned>(::getpid()),
                static_cast<unsigned long long>(++seq_));
  kube::Json event = {
      {"apiVersion", "v1"}, {"kind", "Event"},
      {"metadata", {{"name", meta.value("name", "object") + suffix}, {"namespace", ns}}},
      {"involvedObject", {{"apiVersion", involved.value("apiVersion", "")}, {"kind", involved.value("kind", "")},
                          {"name", meta.value("name", "")}, {"namespace", ns}, {"uid", meta.value("uid", "")},
                          {"resourceVersion", meta.value("resourceVersion", "")}}},
      {"reason", reason}, {"message", message.substr(0, 1024)}, {"type", type},
      {"source", {{"component", component_}}}, {"reportingComponent", component_},
      {"firstTimestamp", now}, {"lastTimestamp", now}, {"count", 1}};
  api_.create(kube::resources::kEvent, ns, event);
}

}  // namespace ew::controller
