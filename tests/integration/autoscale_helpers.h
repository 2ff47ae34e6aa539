#pragma once
// Shared by the live autoscaling tests: an EventWorker that scales on one
// topic, and the kubelet stand-in that runs one runtime process per replica.

#include <atomic>
#include <csignal>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "operator_fixture.h"
#include "runtime_harness.h"

namespace ew::testing {

inline Json scaledWorker(const std::string& name, const std::string& bootstrap, const std::string& topic,
                         const std::string& group, Json scaling) {
  Json ew = eventWorker(name, "registry.local/customer:1.0", /*cron=*/false);
  ew["spec"]["source"] = {{"kafka", {{"brokers", {bootstrap}}, {"consumerGroup", group}}}};
  ew["spec"]["subscriptions"] = {{{"name", "orders"}, {"topic", topic}, {"route", "/events/orders"}}};
  ew["spec"]["scaling"] = std::move(scaling);
  return ew;
}

// Plays the kubelet for the events Deployment: keeps one runtime process per
// replica running, and records every replica count it sees.
class Kubelet {
 public:
  Kubelet(kube::KubeApi& api, std::string ns, std::string deployment, rttest::ConfigSpec spec)
      : api_(api),
        ns_(std::move(ns)),
        deployment_(std::move(deployment)),
        spec_(std::move(spec)),
        thread_([this] { loop(); }),
        sampler_([this] { sample(); }) {}
  ~Kubelet() {
    stop_ = true;
    thread_.join();
    sampler_.join();
  }
  std::vector<int> history() const {
    std::lock_guard l(mu_);
    return history_;
  }

 private:
  // The Deployment's replica counts as they change, sampled on their own
  // thread (stopping pods can take a grace period).
  void sample() {
    while (!stop_) {
      if (auto r = replicasOf(api_, ns_, deployment_)) {
        std::lock_guard l(mu_);
        if (history_.empty() || history_.back() != *r) history_.push_back(*r);
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  void loop() {
    while (!stop_) {
      if (auto r = replicasOf(api_, ns_, deployment_)) {
        while (static_cast<int>(pods_.size()) < *r)
          pods_.push_back(std::make_unique<rttest::RuntimeProcess>("pod-" + std::to_string(pods_.size()), spec_));
        // Scale-down: like a Deployment, stop the surplus pods all at once.
        for (size_t i = static_cast<size_t>(*r); i < pods_.size(); ++i) pods_[i]->signal(SIGTERM);
        while (static_cast<int>(pods_.size()) > *r) {
          pods_.back()->wait(15s);
          pods_.pop_back();
        }
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  kube::KubeApi& api_;
  std::string ns_, deployment_;
  rttest::ConfigSpec spec_;
  std::vector<std::unique_ptr<rttest::RuntimeProcess>> pods_;
  mutable std::mutex mu_;
  std::vector<int> history_;
  std::atomic<bool> stop_{false};
  std::thread thread_, sampler_;
};

}  // namespace ew::testing
