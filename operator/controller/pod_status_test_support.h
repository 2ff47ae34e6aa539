#pragma once
// For the pod monitors' unit tests (outbox_monitor_test, streams_scaler_test):
// a scripted /status reader with replies by pod IP that records its reads.

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controller/pod_status.h"

namespace ew::controller::testing {

struct ScriptedPodStatus {
  std::mutex mu;
  std::map<std::string, Result<nlohmann::json>> replies;  // by ip; none: connection refused
  std::vector<std::string> reads;                         // "ip:port"
  PodStatusReadFn reader() {
    return [this](const std::string& ip, int port) -> Result<nlohmann::json> {
      std::lock_guard l(mu);
      reads.push_back(ip + ":" + std::to_string(port));
      auto it = replies.find(ip);
      return it == replies.end() ? Result<nlohmann::json>(Error{"connection refused"}) : it->second;
    };
  }
};

}  // namespace ew::controller::testing
