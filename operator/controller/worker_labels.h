#pragma once
// The labels of an EventWorker's metric series: {namespace, name} from its
// key (namespace/name). The operator's per-worker series all carry these two
// and no others of the worker's, so their count is bounded by the workers.

#include <string>

#include "ew/metrics.h"

namespace ew::controller {

inline Labels workerLabels(const std::string& key) {
  const auto slash = key.find('/');
  return {{"namespace", key.substr(0, slash)}, {"name", key.substr(slash + 1)}};
}

}  // namespace ew::controller
