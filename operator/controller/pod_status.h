#pragma once
// Reading the runtime pods' own /status (the outbox relays' backlog, the
// streams pods' connected clients): which pods of a worker to ask, the HTTP
// read, and a poll's reads in parallel waves. The monitors that shape the
// replies (outbox_monitor.h, streams_scaler.h) share these.

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "ew/result.h"

namespace ew::controller {

struct RunningPod {
  std::string name, ip;
};
// The running pods of one component of KEY (namespace/name) with an IP.
using RunningPodsFn = std::function<std::vector<RunningPod>(const std::string& key)>;
// GET http://IP:PORT/status, parsed. Thread-safe; bounded by its own timeout.
using PodStatusReadFn = std::function<Result<nlohmann::json>(const std::string& ip, int port)>;

// Reads a runtime's /status over plain HTTP (kube/plain_http.h), each read
// bounded by TIMEOUT; a reply but 200, or a body that is not JSON, is an Error.
PodStatusReadFn httpPodStatusReader(std::chrono::milliseconds timeout);

// The running pods of COMPONENT (the kComponentLabel value: outbox, streams)
// among PODS (slimPod()s of one worker's pods): an IP, not being deleted.
std::vector<RunningPod> runningPods(const std::vector<nlohmann::json>& pods, const std::string& component);

struct PodStatusRequest {
  std::string ip;
  int port = 0;
};
// Reads each of REQUESTS with READ, at most PARALLEL at a time (a poll of
// many workers starts no thread per pod); one result per request, in order.
// A read that throws is an Error.
std::vector<Result<nlohmann::json>> readPodStatuses(const PodStatusReadFn& read,
                                                    const std::vector<PodStatusRequest>& requests, size_t parallel);

}  // namespace ew::controller
