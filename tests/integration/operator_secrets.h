#pragma once
// The operator's own Kafka credentials as the manager keeps them
// (manager/main.cpp): the labelled Secrets of "its" namespace (a scratch
// namespace here), fed into a store by a watch. For the integration tests
// whose operator reads Kafka over TLS/SASL (lag, the migration's offset copy).

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <thread>

#include "controller/kafka_credentials.h"
#include "kube/watcher.h"
#include "kube_helpers.h"

namespace ew::testing {

// "The operator's namespace": its labelled Secrets, watched as manager/main.cpp does.
class OperatorNamespace {
 public:
  explicit OperatorNamespace(kube::KubeApi& api) : api_(api), ns_(createNamespace(api, "as-creds")) {
    kube::WatcherOptions o;
    o.ns = ns_;
    o.labelSelector = std::string(controller::kKafkaCredentialsLabel) + "=true";
    watcher_ = std::make_unique<kube::Watcher>(
        api_, kube::resources::kSecret, o, store_, [](const std::string&) {}, [] { return 0.5; });
    thread_ = std::thread([this] { watcher_->run(); });
    REQUIRE(eventually([&] { return watcher_->synced(); }, std::chrono::seconds(10)));
  }
  ~OperatorNamespace() {
    watcher_->stop();
    thread_.join();
  }
  // Applies Secret NAME with DATA, allowing WORKER_NAMESPACE.
  void putSecret(const std::string& name, const kube::Json& data, const std::string& workerNamespace) {
    kube::Json s = {{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata",
                     {{"name", name},
                      {"labels", {{controller::kKafkaCredentialsLabel, "true"}}},
                      {"annotations", {{controller::kKafkaNamespacesAnnotation, workerNamespace}}}}},
                    {"data", data}};
    REQUIRE(api_.apply(kube::resources::kSecret, ns_, name, s));
    // The watch brings it into the store.
    REQUIRE(eventually([&] { return store_.get(ns_ + "/" + name) && (*store_.get(ns_ + "/" + name))["data"] == data; },
                       std::chrono::seconds(10)));
  }
  controller::OperatorSecrets secrets() {
    return {ns_, [this](const std::string& name) { return store_.get(ns_ + "/" + name); }};
  }
  const std::string& ns() const { return ns_; }

 private:
  kube::KubeApi& api_;
  std::string ns_;
  kube::Store store_;
  std::unique_ptr<kube::Watcher> watcher_;
  std::thread thread_;
};

}  // namespace ew::testing
