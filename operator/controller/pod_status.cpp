#include "controller/pod_status.h"

#include <algorithm>
#include <future>

#include "kube/plain_http.h"
#include "render/names.h"

namespace ew::controller {

using Json = nlohmann::json;

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

std::vector<RunningPod> runningPods(const std::vector<Json>& pods, const std::string& component) {
  std::vector<RunningPod> out;
  for (const auto& p : pods) {
    const Json meta = p.value("metadata", Json::object());
    if (meta.contains("deletionTimestamp")) continue;
    if (meta.value("labels", Json::object()).value(render::kComponentLabel, "") != component) continue;
    const std::string ip = p.value("status", Json::object()).value("podIP", "");
    if (ip.empty()) continue;
    out.push_back({meta.value("name", ""), ip});
  }
  return out;
}

std::vector<Result<Json>> readPodStatuses(const PodStatusReadFn& read, const std::vector<PodStatusRequest>& requests,
                                          size_t parallel) {
  std::vector<Result<Json>> out;
  out.reserve(requests.size());
  for (size_t from = 0; from < requests.size(); from += parallel) {
    std::vector<std::future<Result<Json>>> wave;
    const size_t to = std::min(requests.size(), from + parallel);
    for (size_t k = from; k < to; ++k)
      wave.push_back(std::async(std::launch::async, [&read, &r = requests[k]] { return read(r.ip, r.port); }));
    for (auto& f : wave) {
      try {
        out.push_back(f.get());
      } catch (const std::exception& ex) {
        out.emplace_back(Error{std::string("read failed: ") + ex.what()});
      }
    }
  }
  return out;
}

}  // namespace ew::controller
