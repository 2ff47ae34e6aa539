#pragma once
// Helpers for the end-to-end tests on the node with Dapr's real control plane
// (hack/dapr/install.sh): sentry, operator and sidecar injector from the
// release hack/build-daprd.sh builds, injecting the real daprd.

#include <string>

#include "kube/api.h"

namespace ew::e2e {

// Installs Dapr's control plane on the node (idempotent, seconds once the
// images are imported). When the Dapr binaries are not built it prints why
// and how to build them and exits 77, which ctest counts as a skip
// (ew_e2e_test SKIPPABLE). Throws std::runtime_error (a test failure) when
// the installation fails.
void installDaprOrSkip();

// A node namespace (createNodeNamespace) whose pods Dapr's injector sees
// (the webhook's namespace label), with a pubsub.kafka Component "pubsub" on
// the test broker's pod listener (daprd's consumer group: the app id).
std::string createDaprNamespace(kube::KubeApi& api, const std::string& prefix);

extern const kube::ResourceType kDaprComponent;
extern const kube::ResourceType kDaprSubscription;

}  // namespace ew::e2e
