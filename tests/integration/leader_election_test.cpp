// Leader election on a real coordination.k8s.io/v1 Lease.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "controller/leader_election.h"
#include "test_env.h"

using namespace ew::controller;
using namespace std::chrono_literals;
using ew::kube::KubeApi;
using ew::kube::KubeClient;
using ew::testing::serverEnv;
using ew::testing::uniqueName;

namespace {

KubeClient& client() {
  static auto access = ew::kube::loadKubeconfig(serverEnv("KUBECONFIG"));
  if (!access) FAIL(access.error().message);
  static KubeClient c(*access);
  return c;
}

LeaseConfig config(const std::string& lease, const std::string& id) {
  LeaseConfig c;
  c.ns = "default";
  c.name = lease;
  c.identity = id;
  c.leaseDuration = 3s;
  c.renewDeadline = 2s;
  c.retryPeriod = 200ms;
  return c;
}

struct Candidate {
  LeaderElector elector;
  std::atomic<int> started{0}, stopped{0};
  std::thread thread;
  Candidate(KubeApi& api, LeaseConfig c, const ew::TimeSource& clock) : elector(api, std::move(c), clock) {}
  void start() {
    thread = std::thread([this] { elector.run([this] { ++started; }, [this] { ++stopped; }); });
  }
  ~Candidate() {
    elector.stop();
    if (thread.joinable()) thread.join();
  }
};

bool within(std::chrono::milliseconds d, const std::function<bool()>& pred) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

}  // namespace

TEST_CASE("one leader at a time, a graceful stop hands over at once") {
  KubeApi api(client());
  const ew::TimeSource& clock = ew::systemTime();
  const std::string lease = uniqueName("lease");
  Candidate a(api, config(lease, "a"), clock), b(api, config(lease, "b"), clock);
  a.start();
  REQUIRE(within(5s, [&] { return a.elector.isLeader(); }));
  b.start();
  REQUIRE_FALSE(within(4s, [&] { return b.elector.isLeader(); }));  // longer than the lease: a renews
  CHECK(a.elector.isLeader());

  const auto t0 = std::chrono::steady_clock::now();
  a.elector.stop();
  a.thread.join();
  CHECK(a.stopped == 1);
  REQUIRE(within(3s, [&] { return b.elector.isLeader(); }));
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);  // released, not expired
  auto record = api.get(ew::kube::resources::kLease, "default", lease);
  REQUIRE(record.ok());
  CHECK((*record)["spec"]["holderIdentity"] == "b");
  CHECK((*record)["spec"]["leaseTransitions"] == 1);
}

TEST_CASE("a holder that dies without releasing is replaced only after the lease duration") {
  // On a manual clock: the lease duration is counted from when the candidate
  // first saw the record (client-go's rule; the holder's clock is not
  // trusted), so the moment of the take-over is exact, however busy the machine.
  KubeApi api(client());
  ew::ManualTime time;
  const std::string lease = uniqueName("lease");
  LeaderElector dead(api, config(lease, "dead"), time);
  REQUIRE(dead.tryAcquireOrRenew());  // then never renews again, like a kill -9

  LeaderElector b(api, config(lease, "b"), time);
  CHECK_FALSE(b.tryAcquireOrRenew());  // sees the record: the lease duration starts now
  time.advance(3s - 1ms);
  CHECK_FALSE(b.tryAcquireOrRenew());
  time.advance(1ms);
  REQUIRE(b.tryAcquireOrRenew());
  auto record = api.get(ew::kube::resources::kLease, "default", lease);
  REQUIRE(record.ok());
  CHECK((*record)["spec"]["holderIdentity"] == "b");
  CHECK((*record)["spec"]["leaseTransitions"] == 1);
}
