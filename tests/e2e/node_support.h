#pragma once
// Helpers for the end-to-end tests on the real node (hack/node/node.sh): the
// operator installed from manifests/ as a user installs it, namespaces whose
// pods may run on the node, and reading pods as the kubelet reports them.

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kube/api.h"

namespace ew::e2e {

// Installs the operator with `kubectl apply -k manifests/` (the images the
// node's scripts imported, the manifests' own RBAC and ServiceAccount), its
// namespace first opted into the node; waits until both replicas are Ready.
// Idempotent. Throws std::runtime_error (a test failure) with kubectl's output.
void installOperator();

// A new namespace whose pods run on the node (the PodTolerationRestriction
// annotation), with Pod Security "restricted" enforced.
std::string createNodeNamespace(kube::KubeApi& api, const std::string& prefix);

// The test broker's listener for pods ("10.244.0.1:PORT").
std::string podBootstrap();

struct PodState {
  std::string name;
  std::string phase;           // Pending | Running | Succeeded | Failed
  bool ready = false;          // condition Ready
  bool terminating = false;    // deletionTimestamp set
  std::string waitingReason;   // first container waiting reason (ImagePullBackOff, CrashLoopBackOff, ...)
  int restarts = 0;            // summed over containers
  std::string containersReady; // "runtime=true,handler=false"
};
std::vector<PodState> pods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector);
// Pods Running and Ready and not terminating.
int readyPods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector);

// A compact description of the pods for failure messages.
std::string describePods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector);

// Seconds since an arbitrary origin, for reporting figures.
double nowSeconds();
// Milliseconds since the epoch (Kafka record timestamps are on this clock).
int64_t wallMillis();

// Reads the ledger topic that the ledger handler (tests/support/ledger_handler)
// writes one record to per acknowledged event, incrementally from the start.
// Not thread-safe.
class LedgerReader {
 public:
  LedgerReader(const std::string& bootstrap, const std::string& topic);
  ~LedgerReader();
  // Reads what arrives within `within`.
  void poll(std::chrono::milliseconds within);
  size_t entries() const { return entries_; }
  size_t distinct() const { return seqs_.size(); }
  // Ledger entries of seqs seen more than once.
  size_t duplicates() const { return seqEntries_ - seqs_.size(); }
  bool has(int64_t seq) const { return seqs_.count(seq) > 0; }
  // Per pod: the Kafka timestamp (ms since the epoch) of its first and last entry.
  const std::map<std::string, std::pair<int64_t, int64_t>>& pods() const { return pods_; }
  // Entries per route.
  const std::map<std::string, size_t>& routes() const { return routes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t entries_ = 0;
  size_t seqEntries_ = 0;
  std::set<int64_t> seqs_;
  std::map<std::string, std::pair<int64_t, int64_t>> pods_;
  std::map<std::string, size_t> routes_;
};

}  // namespace ew::e2e
