#include "autoscale/simulator.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;

namespace {

Trace constant(double rate, int seconds) { return {{0, rate}, {double(seconds), rate}}; }

// Holds a replica count, changing it at given seconds.
class Scripted : public Autoscaler {
 public:
  explicit Scripted(std::vector<std::pair<int, int>> changes) : changes_(std::move(changes)) {}
  int tick(const ClusterView& view) override {
    views.push_back(view);
    for (auto [t, r] : changes_)
      if (t == view.t) return r;
    return view.specReplicas;
  }
  std::string note() const override { return "scripted"; }
  std::vector<ClusterView> views;

 private:
  std::vector<std::pair<int, int>> changes_;
};

ModelConfig model() {
  ModelConfig m;
  m.partitions = 12;
  m.perReplicaRate = 100;
  m.podStartSeconds = 10;
  m.rebalancePauseSeconds = 5;
  m.initialReplicas = 1;
  return m;
}

}  // namespace

TEST_CASE("a group with capacity to spare keeps no lag") {
  Scripted hold({});
  auto r = simulate(constant(60, 100), model(), hold);
  CHECK(r.summary.seconds == 100);
  CHECK(r.summary.lagSeconds == Approx(0).margin(1e-6));
  CHECK(r.summary.replicaSeconds == 100);
  CHECK(r.summary.scaleEvents == 0);
  CHECK(r.steps[50].consumed == Approx(60));
  REQUIRE(hold.views.size() == 100);
  CHECK(hold.views[99].partitions[0].end == 495);  // 99 s x 5 msg/s per partition
  CHECK(hold.views[99].partitions[0].committed == 495);
  CHECK(hold.views[99].partitions[0].hasOwner);
}

TEST_CASE("throughput follows partition ownership: the busiest of r owns ceil(P/r)") {
  // 480 msg/s over 12 partitions: 40 msg/s each. Replicas owning 3 partitions
  // need 120 msg/s and fall behind by 20 msg/s; owning 2 they keep up.
  auto lagAfter = [](int replicas) {
    ModelConfig m = model();
    m.initialReplicas = replicas;
    Scripted hold({});
    return simulate(constant(480, 101), m, hold).steps.back().lag;
  };
  CHECK(lagAfter(4) == Approx(80 * 101));  // 4 members with 3 partitions
  CHECK(lagAfter(5) == Approx(40 * 101));  // 2 of 5 members with 3 partitions
  CHECK(lagAfter(6) == Approx(0).margin(1e-6));
}

TEST_CASE("a member with a dry partition gives its share to the others") {
  ModelConfig m = model();
  m.partitions = 2;
  m.stuck = StuckPartition{1, 0, 1000};  // partition 1 takes nothing
  Scripted hold({});
  auto r = simulate(constant(150, 10), m, hold);
  // Partition 0 gets 75 msg/s and the whole 100 msg/s capacity: no lag there;
  // partition 1 accumulates everything.
  CHECK(r.steps.back().consumed == Approx(75));
  CHECK(r.steps.back().lag == Approx(750));
  CHECK(hold.views.back().partitions[1].committed == 0);
  CHECK(hold.views.back().partitions[1].hasOwner);
}

TEST_CASE("new pods join after the pod start, and each membership change pauses the group") {
  Scripted up({{0, 3}});
  auto r = simulate(constant(60, 40), model(), up);
  CHECK(r.summary.scaleEvents == 1);
  CHECK(r.steps[0].replicas == 3);
  CHECK(r.steps[9].members == 1);
  CHECK_FALSE(r.steps[9].rebalancing);
  CHECK(r.steps[10].members == 3);
  for (int t = 10; t < 15; ++t) {
    CHECK(r.steps[t].rebalancing);
    CHECK(r.steps[t].consumed == 0);
  }
  CHECK(up.views[10].partitions[0].hasOwner);  // read before the join
  for (int t = 11; t < 15; ++t) CHECK_FALSE(up.views[t].partitions[0].hasOwner);
  CHECK(up.views[15].partitions[0].hasOwner);
  CHECK_FALSE(r.steps[15].rebalancing);
  CHECK(r.steps[14].lag == Approx(5 * 60));
  CHECK(r.steps[15].lag == Approx(60));  // each member: 4 partitions, 120 waiting, 100 done
  CHECK(r.steps[16].lag == Approx(0).margin(1e-6));
  CHECK(r.summary.replicaSeconds == 3 * 40);
}

TEST_CASE("scale-down removes starting pods first: no rebalance when no member leaves") {
  Scripted script({{0, 3}, {5, 2}, {20, 1}});
  auto r = simulate(constant(60, 40), model(), script);
  CHECK(r.summary.scaleEvents == 3);
  CHECK(r.steps[5].replicas == 2);
  CHECK_FALSE(r.steps[5].rebalancing);  // a starting pod went
  CHECK(r.steps[10].members == 2);      // the other one joined
  CHECK(r.steps[10].rebalancing);
  CHECK(r.steps[20].members == 1);  // a member left
  CHECK(r.steps[20].rebalancing);
  CHECK(r.steps[24].rebalancing);
  CHECK_FALSE(r.steps[25].rebalancing);
}

TEST_CASE("zero replicas consume nothing") {
  ModelConfig m = model();
  m.initialReplicas = 0;
  Scripted hold({});
  auto r = simulate(constant(12, 10), m, hold);
  CHECK(r.steps.back().lag == Approx(120));
  CHECK(r.summary.replicaSeconds == 0);
  CHECK_FALSE(hold.views[5].partitions[3].hasOwner);
}

TEST_CASE("summarize: lag-seconds, peak, nearest-rank p99, replica-seconds") {
  std::vector<StepRecord> steps;
  for (int i = 1; i <= 100; ++i) steps.push_back({i - 1, 0, 0, double(i), i % 7, 0, false, ""});
  auto s = summarize(steps, 4);
  CHECK(s.lagSeconds == 5050);
  CHECK(s.peakLag == 100);
  CHECK(s.p99Lag == 99);
  CHECK(s.peakReplicas == 6);
  CHECK(s.scaleEvents == 4);
  CHECK(s.seconds == 100);
  CHECK(summaryText(s) == "lag_seconds 5050\npeak_lag 100\np99_lag 99\nreplica_seconds " +
                              std::to_string(int(s.replicaSeconds)) +
                              "\nscale_events 4\npeak_replicas 6\nseconds 100\n");
  CHECK(summarize({}, 0).p99Lag == 0);
}

TEST_CASE("the simulation is deterministic and its CSV has one row per second") {
  auto run = [] {
    EventWorkerAutoscaler ew(PolicyConfig{}, 10);
    Trace burst = {{0, 50}, {100, 50}, {101, 1000}, {160, 1000}, {161, 50}, {400, 50}};
    return toCsv(simulate(burst, model(), ew));
  };
  std::string csv = run();
  CHECK(csv == run());
  CHECK(csv.rfind("t,produce_rate,consumed,lag,replicas,members,rebalancing,note\n0,50.00,50.00,0.0,1,1,0,Bounds\n",
                  0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 401);
}

TEST_CASE("the gnuplot script plots lag and replicas on two axes") {
  auto g = gnuplotScript("/tmp/a.csv", "/tmp/it's.png", "flash burst");
  CHECK(g.find("set output '/tmp/it''s.png'") != std::string::npos);
  CHECK(g.find("'/tmp/a.csv' using 1:4 skip 1 with lines lw 2 title 'lag' axes x1y1") != std::string::npos);
  CHECK(g.find("using 1:5 skip 1 with steps lw 2 title 'replicas' axes x1y2") != std::string::npos);
}

TEST_CASE("the eventworker autoscaler polls on its interval and scales a burst to the partition count") {
  PolicyConfig c;
  c.maxReplicas = 100;
  c.lagThreshold = 1000;
  EventWorkerAutoscaler ew(c, 10);
  ModelConfig m = model();
  Trace burst = {{0, 50}, {30, 50}, {31, 1500}, {200, 1500}};
  auto r = simulate(burst, m, ew);
  // Nothing changes between polls.
  for (const auto& s : r.steps)
    if (s.t % 10 != 0 && s.t > 0) CHECK(s.replicas == r.steps[s.t - 1].replicas);
  CHECK(r.summary.peakReplicas == 12);  // never above the partitions, and all of them
}

TEST_CASE("the autoscaler sees committed offsets, lag-seconds count what is unprocessed") {
  ModelConfig m = model();
  m.commitIntervalSeconds = 5;
  Scripted hold({});
  auto r = simulate(constant(60, 20), m, hold);
  CHECK(r.summary.lagSeconds == Approx(0).margin(1e-6));
  // Commits after t = 2, 7, 12, ...: half an interval off the polls at multiples of 5.
  CHECK(hold.views[2].partitions[0].committed == 0);
  CHECK(hold.views[3].partitions[0].committed == 15);  // 3 s x 5 msg/s
  CHECK(hold.views[5].partitions[0].committed == 15);
  CHECK(hold.views[5].partitions[0].end == 25);
  CHECK(hold.views[8].partitions[0].committed == 40);
}
