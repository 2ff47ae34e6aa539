#include "kube_helpers.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "test_env.h"

namespace ew::testing {

kube::KubeClient& testKubeClient() {
  static kube::KubeClient* client = [] {
    auto access = kube::loadKubeconfig(serverEnv("KUBECONFIG"));
    if (!access) throw std::runtime_error(access.error().message);
    return new kube::KubeClient(*access);  // lives for the test process
  }();
  return *client;
}

std::string base64(const std::string& in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    for (int s : {18, 12, 6, 0}) out += abc[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    if (i + 1 < in.size()) v |= (unsigned char)in[i + 1] << 8;
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += i + 1 < in.size() ? abc[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

kube::Json kafkaSecretData(const std::string& dir) {
  kube::Json data = kube::Json::object();
  for (const char* key : {"username", "password", "ca.crt", "tls.crt", "tls.key"})
    if (std::ifstream(dir + "/" + key)) data[key] = base64(readFile(dir + "/" + key));
  return data;
}

std::string createNamespace(kube::KubeApi& api, const std::string& prefix) {
  const std::string ns = uniqueName(prefix);
  auto r = api.create(kube::resources::kNamespace, "",
                      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  if (!r) throw std::runtime_error("create namespace " + ns + ": " + r.error().message);
  return ns;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

int markPodsReady(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector) {
  kube::ListOptions o;
  o.labelSelector = labelSelector;
  auto pods = api.list({"", "v1", "pods", "Pod", true}, ns, o);
  if (!pods) return 0;
  int n = 0;
  for (const auto& pod : (*pods)["items"]) {
    const std::string name = pod["metadata"]["name"];
    kube::Json status = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}, {"namespace", ns}}},
        {"status",
         {{"phase", "Running"},
          {"conditions",
           {{{"type", "Ready"}, {"status", "True"}}, {{"type", "ContainersReady"}, {"status", "True"}}}}}}};
    kube::KubeApi kubelet(api.client(), "test-kubelet");
    if (kubelet.apply({"", "v1", "pods", "Pod", true}, ns, name, status, /*status=*/true)) ++n;
  }
  return n;
}

int runCommand(const std::string& cmd, std::string* output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (output) *output = out;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int kubectl(const std::string& args, std::string* output) {
  return runCommand(serverEnv("EW_KUBECTL") + " --kubeconfig " + serverEnv("KUBECONFIG") + " " + args, output);
}

void installCrds() {
  static const bool done = [] {
    std::string out;
    // Test processes run side by side, and two client-side applies of a CRD
    // that does not exist yet race (both create; one gets AlreadyExists): the
    // next try patches it.
    int attempt = 0;
    while (kubectl("apply -f " + std::string(EW_SOURCE_DIR) + "/crds/", &out) != 0) {
      if (++attempt == 5) throw std::runtime_error("kubectl apply crds: " + out);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    // `kubectl wait` fails at once, instead of waiting, while a new CRD has no status yet.
    const bool established = eventually(
        [&] {
          return kubectl(
                     "wait --for=condition=Established --timeout=60s crd/eventworkers.eventworker.dev "
                     "crd/subscriptions.dapr.io",
                     &out) == 0;
        },
        std::chrono::seconds(60));
    if (!established) throw std::runtime_error("CRDs not established: " + out);
    return true;
  }();
  (void)done;
}

std::map<std::string, double> apiserverRequestsByVerb(const std::vector<std::string>& resources) {
  std::map<std::string, double> byVerb;
  for (const auto& [key, n] : apiserverRequests(resources)) byVerb[key.substr(0, key.find(' '))] += n;
  return byVerb;
}

std::map<std::string, double> apiserverRequests(const std::vector<std::string>& resources) {
  auto r = testKubeClient().send({kube::Verb::Get, "/metrics", ""});
  if (!r || r->status != 200) throw std::runtime_error("cannot read apiserver /metrics");
  std::map<std::string, double> byVerb;
  size_t pos = 0;
  const std::string& text = r->body;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("apiserver_request_total{", 0) != 0) continue;
    auto label = [&](const std::string& key) {
      auto k = line.find(key + "=\"");
      if (k == std::string::npos) return std::string();
      k += key.size() + 2;
      return line.substr(k, line.find('"', k) - k);
    };
    if (!resources.empty()) {
      bool match = false;
      for (const auto& res : resources) match = match || label("resource") == res;
      if (!match) continue;
    }
    const std::string sub = label("subresource");
    byVerb[label("verb") + " " + label("resource") + (sub.empty() ? "" : "/" + sub)] +=
        std::stod(line.substr(line.rfind(' ') + 1));
  }
  return byVerb;
}

}  // namespace ew::testing
