#include "dapr_support.h"

#include <sys/wait.h>

#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "ew/process_exit.h"
#include "node_support.h"
#include "test_env.h"

namespace ew::e2e {

using kube::Json;

namespace {

constexpr int kSkipped = 77;  // SKIP_RETURN_CODE of ew_e2e_test SKIPPABLE
constexpr int kNotBuilt = 3;  // hack/dapr/install.sh: the Dapr binaries are not built
// hack/dapr/install.sh's DAPR_INJECT_LABEL: the webhook's namespaceSelector.
const char* const kInjectLabel = "eventworker.dev/dapr-injection";

// Runs COMMAND with a shell; its exit code, stdout and stderr in OUTPUT.
int run(const std::string& command, std::string& output) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + command);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int rc = ::pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

const kube::ResourceType kDaprComponent{"dapr.io", "v1alpha1", "components", "Component", true};
const kube::ResourceType kDaprSubscription{"dapr.io", "v2alpha1", "subscriptions", "Subscription", true};

void installDaprOrSkip() {
  static const bool done = [] {
    std::string out;
    const int rc = run(
        "bash " + std::string(EW_SOURCE_DIR) + "/hack/dapr/install.sh " + ew::testing::serverEnv("EW_STATE_DIR"), out);
    if (rc == kNotBuilt) {
      std::cout << "SKIPPED: " << out << std::flush;
      ew::exitProcess(kSkipped);
    }
    if (rc != 0) throw std::runtime_error("hack/dapr/install.sh failed (exit " + std::to_string(rc) + "):\n" + out);
    std::cout << out;
    return true;
  }();
  (void)done;
}

std::string createDaprNamespace(kube::KubeApi& api, const std::string& prefix) {
  const std::string ns = createNodeNamespace(api, prefix);
  auto labelled = api.apply(kube::resources::kNamespace, "", ns,
                            {{"apiVersion", "v1"},
                             {"kind", "Namespace"},
                             {"metadata", {{"name", ns}, {"labels", {{kInjectLabel, "enabled"}}}}}});
  if (!labelled) throw std::runtime_error("label namespace " + ns + ": " + labelled.error().message);
  const Json component = {{"apiVersion", "dapr.io/v1alpha1"},
                          {"kind", "Component"},
                          {"metadata", {{"name", "pubsub"}, {"namespace", ns}}},
                          {"spec",
                           {{"type", "pubsub.kafka"},
                            {"version", "v1"},
                            {"metadata", Json::array({{{"name", "brokers"}, {"value", podBootstrap()}},
                                                      {{"name", "authType"}, {"value", "none"}},
                                                      {{"name", "disableTls"}, {"value", "true"}},
                                                      {{"name", "initialOffset"}, {"value", "oldest"}}})}}}};
  auto applied = api.apply(kDaprComponent, ns, "pubsub", component);
  if (!applied) throw std::runtime_error("apply the pubsub Component in " + ns + ": " + applied.error().message);
  return ns;
}

}  // namespace ew::e2e
