// kube::Api's contract (tests/support/api_contract.h) on the real
// kube-apiserver: what kube::FakeApi is held to in its unit test.
#include <catch2/catch.hpp>

#include "api_contract.h"
#include "kube_helpers.h"

using namespace std::chrono_literals;

TEST_CASE("the real kube-apiserver answers the kube::Api contract that the fake is held to") {
  ew::kube::KubeApi api(ew::testing::testKubeClient());
  const std::string ns = ew::testing::createNamespace(api, "contract");
  ew::testing::apiContract(
      api, ns, [] {}, 60s);
}
