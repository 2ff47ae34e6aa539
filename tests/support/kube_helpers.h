#pragma once
// Helpers for integration tests against the real kube-apiserver: a shared
// client, namespaces, waiting, standing in for the kubelet, and reading the
// apiserver's own request counters.

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "kube/api.h"

namespace ew::testing {

kube::KubeClient& testKubeClient();
// Creates a fresh namespace; returns its name.
std::string createNamespace(kube::KubeApi& api, const std::string& prefix);

// Polls pred every 50 ms until true or `within` passes; returns pred's last value.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds within = std::chrono::seconds(30));

// Stands in for the kubelet (there is none): marks every pod matching the
// selector Running and Ready, so Deployments become Available.
int markPodsReady(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector);

// apiserver_request_total summed by verb, over the given resources (empty = all).
std::map<std::string, double> apiserverRequestsByVerb(const std::vector<std::string>& resources = {});
// The same by "VERB resource[/subresource]".
std::map<std::string, double> apiserverRequests(const std::vector<std::string>& resources = {});

// Base64 of IN, as a Secret's data holds its values.
std::string base64(const std::string& in);
// The data of a Secret with the files of DIR named as a Kafka credentials
// Secret's keys (username, password, ca.crt, tls.crt, tls.key: whichever
// exist), base64 as the API wants it.
kube::Json kafkaSecretData(const std::string& dir);

// Runs CMD with sh; its exit code (-1 when it did not exit), and in OUTPUT
// its stdout and stderr.
int runCommand(const std::string& cmd, std::string* output = nullptr);

// Applies a YAML or JSON manifest file with the real kubectl; returns its exit code.
int kubectl(const std::string& args, std::string* output = nullptr);

// Applies the CRDs under crds/ (EventWorker and Dapr's Subscription) and waits
// until both are Established; does the work once per process. Throws
// std::runtime_error (a test failure) with kubectl's output when it cannot.
void installCrds();

}  // namespace ew::testing
