#include "loops/ops_server.h"

#include <nlohmann/json.hpp>

#include "ew/http_endpoints.h"

namespace ew::runtime {

OpsServer::OpsServer(const RuntimeConfig& config, MetricsRegistry& metrics)
    : config_(config), metrics_(metrics), http_(std::make_unique<HttpEndpoints>(config.server.address)) {}

OpsServer::~OpsServer() { stop(); }

void OpsServer::setProbes(OpsProbes probes) { probes_ = std::move(probes); }

Status OpsServer::start() {
  http_->handle("/healthz", [this] {
    return probes_.healthy() ? HttpReply{200, "ok\n"} : HttpReply{503, "poll loop stalled\n"};
  });
  http_->handle("/readyz", [this] {
    return probes_.ready() ? HttpReply{200, "ready\n"} : HttpReply{503, "not ready: no partitions or handler down\n"};
  });
  http_->handle("/metrics", [this] {
    return HttpReply{200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8"};
  });
  http_->handle("/status", [this] {
    const OpsStatus s = probes_.status();
    nlohmann::json j = {{"name", config_.worker},   {"namespace", config_.namespace_},
                        {"status", s.status},       {"jobsProcessed", s.processed},
                        {"queueSize", s.queueSize}, {"assignedPartitions", s.assignedPartitions}};
    if (!s.outbox.empty()) {
      j["outbox"] = nlohmann::json::array();
      for (const auto& r : s.outbox) {
        nlohmann::json relay = {{"name", r.name}, {"state", r.state}};
        if (r.counted) {
          relay["pending"] = r.backlog.pending;
          relay["oldestPendingAgeSeconds"] = r.backlog.oldestAgeSeconds;
        }
        j["outbox"].push_back(std::move(relay));
      }
    }
    if (!s.streams.empty()) {
      j["streams"] = nlohmann::json::array();
      for (const auto& st : s.streams) j["streams"].push_back({{"name", st.stream}, {"clients", st.clients}});
    }
    return HttpReply{200, j.dump() + "\n", "application/json"};
  });
  return http_->start();
}

void OpsServer::stop() { http_->stop(); }

}  // namespace ew::runtime
