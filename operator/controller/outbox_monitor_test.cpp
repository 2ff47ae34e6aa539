#include "controller/outbox_monitor.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <mutex>

#include "controller/pod_status_test_support.h"

// The outbox monitor's schedule and publishing, driven through pollDue() with
// scripted pod replies and a manual clock. The HTTP read of a real runtime's
// /status is covered by runtime_outbox_test.

using namespace ew;
using namespace ew::controller;
using Json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Rig : ew::controller::testing::ScriptedPodStatus {
  ManualTime time;
  std::vector<RunningPod> pods = {{"w-outbox-a", "10.244.0.5"}, {"w-outbox-b", "10.244.0.6"}};
  std::vector<std::string> changes;
  OutboxMonitor monitor{reader(), [this](const std::string&) { return pods; },
                        [this](const std::string& key) { changes.push_back(key); }, time};

  void reply(const std::string& ip, const std::string& state, int64_t pending = 0, double age = 0) {
    Json r = {{"name", "orders"}, {"state", state}};
    if (state == "active") {
      r["pending"] = pending;
      r["oldestPendingAgeSeconds"] = age;
    }
    replies.insert_or_assign(ip, Json{{"outbox", Json::array({r})}});
  }
};

const OutboxTarget kTarget{{"orders"}, 9090};

}  // namespace

TEST_CASE("a tracked worker's outbox pods are read at once, each on the runtime port, and the view is published") {
  Rig rig;
  rig.reply("10.244.0.5", "standby");
  rig.reply("10.244.0.6", "active", 40, 3);
  rig.monitor.track("shop/w", kTarget);
  CHECK_FALSE(rig.monitor.view("shop/w"));
  CHECK(rig.monitor.pollDue() == OutboxMonitor::kPollInterval);
  std::sort(rig.reads.begin(), rig.reads.end());
  CHECK(rig.reads == std::vector<std::string>{"10.244.0.5:9090", "10.244.0.6:9090"});
  CHECK(rig.changes == std::vector<std::string>{"shop/w"});
  const auto v = rig.monitor.view("shop/w");
  REQUIRE(v);
  CHECK((*v)[0].figures->pendingRows == 40);
  CHECK((*v)[0].figures->pod == "w-outbox-b");
}

TEST_CASE("figures that only move are published every 30 s, a change that matters at once") {
  Rig rig;
  rig.reply("10.244.0.6", "active", 40, 3);
  rig.monitor.track("shop/w", kTarget);
  (void)rig.monitor.pollDue();
  rig.changes.clear();
  rig.reads.clear();
  CHECK(rig.monitor.pollDue() == OutboxMonitor::kPollInterval);  // nothing due yet
  CHECK(rig.reads.empty());
  rig.reply("10.244.0.6", "active", 55, 4);
  rig.time.advance(10s);
  (void)rig.monitor.pollDue();
  CHECK(rig.changes.empty());
  CHECK(rig.monitor.view("shop/w")->at(0).figures->pendingRows == 40);  // the published one
  rig.time.advance(10s);
  (void)rig.monitor.pollDue();
  rig.time.advance(10s);
  (void)rig.monitor.pollDue();
  CHECK(rig.changes.size() == 1);  // 30 s after the last publish
  CHECK(rig.monitor.view("shop/w")->at(0).figures->pendingRows == 55);
  rig.reply("10.244.0.6", "active", 0, 0);  // drained: at once
  rig.time.advance(10s);
  (void)rig.monitor.pollDue();
  CHECK(rig.changes.size() == 2);
}

TEST_CASE("a pod that stops answering keeps the last figures, stale, and the monitor goes on polling") {
  Rig rig;
  rig.reply("10.244.0.6", "active", 12, 1);
  rig.monitor.track("shop/w", kTarget);
  (void)rig.monitor.pollDue();
  rig.replies.erase("10.244.0.6");
  rig.time.advance(10s);
  (void)rig.monitor.pollDue();
  CHECK(rig.changes.size() == 2);
  auto v = rig.monitor.view("shop/w");
  CHECK((*v)[0].figures->pendingRows == 12);
  CHECK((*v)[0].staleReason == kStatusUnreadable);
  rig.reply("10.244.0.6", "active", 2, 1);
  rig.time.advance(10s);
  (void)rig.monitor.pollDue();
  CHECK(rig.monitor.view("shop/w")->at(0).staleReason.empty());
}

TEST_CASE("untrack forgets a worker, and a changed target is polled again at once") {
  Rig rig;
  rig.reply("10.244.0.6", "active", 1, 1);
  rig.monitor.track("shop/w", kTarget);
  (void)rig.monitor.pollDue();
  rig.reads.clear();
  rig.monitor.track("shop/w", OutboxTarget{{"orders"}, 9191});
  (void)rig.monitor.pollDue();
  CHECK(rig.reads.size() == 2);
  CHECK(rig.reads[0].ends_with(":9191"));
  rig.monitor.untrack("shop/w");
  CHECK_FALSE(rig.monitor.view("shop/w"));
}

TEST_CASE("a poll of many workers reads their pods in waves of kParallelReads, every pod once") {
  Rig rig;
  rig.reply("10.244.0.5", "standby");
  rig.reply("10.244.0.6", "active", 1, 1);
  for (int i = 0; i < 20; ++i) rig.monitor.track("shop/w" + std::to_string(i), kTarget);
  (void)rig.monitor.pollDue();
  CHECK(rig.reads.size() == 40);
  CHECK(rig.changes.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(rig.monitor.view("shop/w" + std::to_string(i))->at(0).figures->pendingRows == 1);
}
