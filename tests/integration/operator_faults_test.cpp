// Fault injection around the operator: each test here stops a shared server,
// so the file runs serially (RUN_SERIAL).
#include "operator_fixture.h"

using namespace ew;
using namespace ew::testing;
namespace resources = kube::resources;

TEST_CASE("kube-apiserver down for 20 s: the controller reconnects and converges without duplicates") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-outage");
  RunningController rc(ns);
  REQUIRE(user.apply(resources::kEventWorker, ns, "before", eventWorker("before")));
  REQUIRE(eventually([&] { return get(user, resources::kDeployment, ns, "before-events").has_value(); }));

  const std::string restart =
      std::string(EW_SOURCE_DIR) + "/hack/server-restart.sh " + serverEnv("EW_STATE_DIR") + " kube-apiserver 20";
  REQUIRE(std::system(restart.c_str()) == 0);

  // A restarted apiserver answers 429 "storage is (re)initializing" for
  // custom resources for a moment after /readyz: the user retries too.
  REQUIRE(eventually([&] { return user.apply(resources::kEventWorker, ns, "after", eventWorker("after")).ok(); }, 60s));
  const std::multiset<std::string> want = {"Deployment after-events", "Deployment before-events",
                                           "StatefulSet after-cron", "StatefulSet before-cron"};
  std::multiset<std::string> names;
  auto workloadNames = [&] {
    names.clear();
    for (const auto* type : {&resources::kDeployment, &resources::kStatefulSet})
      if (auto l = user.list(*type, ns))
        for (const auto& d : (*l)["items"]) names.insert(type->kind + " " + d["metadata"]["name"].get<std::string>());
    return names;
  };
  CHECK(eventually([&] { return workloadNames().size() >= want.size(); }, 90s));
  std::this_thread::sleep_for(2s);  // a duplicate would show up here
  CHECK(workloadNames() == want);
}
