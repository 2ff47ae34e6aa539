#pragma once
// Helpers for the end-to-end tests on the real node (hack/node/node.sh): the
// operator installed from manifests/ as a user installs it, namespaces whose
// pods may run on the node, and reading pods as the kubelet reports them.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
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
// The first step of installOperator, for installs by other means (helm):
// waits while eventworker-system is still terminating, then applies it opted
// into the node. Throws std::runtime_error like installOperator.
void prepareOperatorNamespace();

// A new namespace whose pods run on the node (the PodTolerationRestriction
// annotation), with Pod Security "restricted" enforced.
std::string createNodeNamespace(kube::KubeApi& api, const std::string& prefix);

// The test broker's listener for pods ("10.244.0.1:PORT").
std::string podBootstrap();

struct PodState {
  std::string name;
  std::string uid;              // one pod object: a StatefulSet's replacement has the same name
  std::string phase;            // Pending | Running | Succeeded | Failed
  bool ready = false;           // condition Ready
  bool terminating = false;     // deletionTimestamp set
  std::string waitingReason;    // first container waiting reason (ImagePullBackOff, CrashLoopBackOff, ...)
  int restarts = 0;             // summed over containers
  std::string containersReady;  // "runtime=true,handler=false"
};
std::vector<PodState> pods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector);
// Pods Running and Ready and not terminating.
int readyPods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector);

// The operator's leader Lease holder identity ("<hostname>_<pid>"), "" when none.
std::string leaseHolder(kube::KubeApi& api);
// The pod of PODS whose name the holder identity starts with ("" when none).
std::string holderPod(const std::string& holder, const std::vector<PodState>& pods);
// The operator pod that leads now ("" when none does).
std::string operatorLeaderPod(kube::KubeApi& api);

// A compact description of the pods for failure messages.
std::string describePods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector);

extern const kube::ResourceType kEventWorker;
extern const kube::ResourceType kDeployment;
extern const kube::ResourceType kEndpointSlice;

// An EventWorker whose handler is the ledger handler image, on the test
// broker's pod listener, with one subscription ("orders": TOPIC, route
// /events/orders) and small resource requests (the node has two cores).
struct WorkerSpec {
  std::string ns;
  std::string name;
  std::string topic;
  std::string ledgerTopic;
  std::string handlerImage = "localhost/eventworker/ledger-handler:test";
  int delayMs = 10;
  int concurrency = 2;
  int minReplicas = 1;
  int maxReplicas = 6;
  int lagThreshold = 500;
  bool autoscale = true;
  std::string extraTopic;                // a second subscription ("more", route /events/more) when not empty
  std::string cron;                      // the cron list as JSON, "" for none
  std::vector<std::string> handlerArgs;  // more arguments of the ledger handler (--crash-at-start)
  std::string bootstrap;                 // the broker as the pods reach it; podBootstrap() when empty
  // spec.source.kafka.security (null: PLAINTEXT). The ledger handler then
  // still writes over podBootstrap() (PLAINTEXT).
  kube::Json security;
  // Dapr delivers (spec.dapr, pubsub component "pubsub"): daprd's consumer
  // group is the app id, so spec.source.kafka names none.
  bool dapr = false;
  std::string appId;  // spec.dapr.appId; metadata.name when empty
};
kube::Json workerObject(const WorkerSpec& w);
// A WorkerSpec named NAME in NS, on the topics NS.orders and NS.ledger.
WorkerSpec namedWorker(const std::string& ns, const std::string& name);
// An EventWorker NAME in NS with no subscription (no events pods) for the
// pods of the runtime alone: the caller adds spec.streams or spec.outbox.
// On the test broker's pod listener, with small resource requests.
kube::Json runtimeOnlyWorker(const std::string& ns, const std::string& name);
// The label selector of W's pods of COMPONENT (events | cron).
std::string podSelector(const WorkerSpec& w, const std::string& component);

// The end of a wait on pods: true, or false with the pods of the selector and
// the namespace's events as they were when the wait ended, which is what
// REQUIRE(waitForPods(...)) prints on failure.
struct PodWait {
  bool ok = false;
  std::string report;
  explicit operator bool() const { return ok; }
};
inline std::ostream& operator<<(std::ostream& o, const PodWait& w) {
  return o << (w.ok ? std::string("true") : "false; the pods then:\n" + w.report);
}
// Polls PRED (every 50 ms) until it holds or WITHIN passes.
PodWait waitForPods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector,
                    const std::function<bool()>& pred, std::chrono::milliseconds within);

// The status of condition TYPE of an EventWorker ("" when absent).
std::string condition(const kube::Json& ew, const std::string& type, std::string* reason = nullptr);
// spec.replicas of Deployment NAME, -1 when it does not exist.
int deploymentReplicas(kube::KubeApi& api, const std::string& ns, const std::string& name);

// Seconds since an arbitrary origin, for reporting figures.
double nowSeconds();
// Milliseconds since the epoch (Kafka record timestamps are on this clock).
int64_t wallMillis();

// Reads the ledger topic that the ledger handler (tests/support/ledger_handler)
// writes one record to per acknowledged event, incrementally from the start.
// Not thread-safe.
class LedgerReader {
 public:
  struct Entry {
    std::string route;
    std::string id;      // the CloudEvent id
    int64_t seq = -1;    // data.seq of the test payload, -1 when none
    int partition = -1;  // the source partition, -1 when unknown
    std::string pod;
    int64_t at = 0;  // the ledger record's timestamp, ms since the epoch
  };
  LedgerReader(const std::string& bootstrap, const std::string& topic);
  ~LedgerReader();
  // Reads what arrives within `within`.
  void poll(std::chrono::milliseconds within);
  const std::vector<Entry>& all() const { return entries_; }
  size_t entries() const { return entries_.size(); }
  // Distinct seqs seen (events of the test payload).
  size_t distinct() const { return seqs_.size(); }
  // Ledger entries of seqs seen more than once.
  size_t duplicates() const { return seqEntries_ - seqs_.size(); }
  bool has(int64_t seq) const { return seqs_.count(seq) > 0; }
  // Per pod: the timestamp (ms since the epoch) of its first and last entry.
  const std::map<std::string, std::pair<int64_t, int64_t>>& pods() const { return pods_; }
  // Entries of ROUTE.
  std::vector<Entry> route(const std::string& route) const;
  // The longest time any partition went without a ledger entry across AT
  // (ms since the epoch): per partition, first entry at or after AT minus the
  // last one before it; the maximum over partitions that have both.
  int64_t longestGapAcross(int64_t at) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<Entry> entries_;
  size_t seqEntries_ = 0;
  std::set<int64_t> seqs_;
  std::map<std::string, std::pair<int64_t, int64_t>> pods_;
};

}  // namespace ew::e2e
