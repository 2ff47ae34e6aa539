#pragma once
// What the watcher tests share: a ConfigMap labelled w=1, and a Watcher
// running on its own thread for as long as a scope lasts.

#include <string>
#include <thread>

#include "kube/watcher.h"

namespace ew::testing {

inline kube::Json labelledConfigMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", {{"w", "1"}}}}},
          {"data", {{"v", value}}}};
}

// Runs W.run() on a thread; stops and joins it on destruction.
struct RunningWatcher {
  kube::Watcher& w;
  std::thread t;
  explicit RunningWatcher(kube::Watcher& watcher) : w(watcher), t([&] { w.run(); }) {}
  ~RunningWatcher() {
    w.stop();
    t.join();
  }
};

}  // namespace ew::testing
