// The operator's read of the outbox relays' backlog (operator/controller/
// outbox_monitor.h) against the real runtime binary relaying a table of the
// test servers' PostgreSQL: the operator reads the runtime's /status over
// HTTP, never the database. The pods are the runtime processes on loopback
// (the outbox Deployment on the node is the e2e's). Kafka here is a closed
// port: the relay holds its rows, so they stay pending and age.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "controller/outbox_monitor.h"
#include "outbox_harness.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace ew::rttest::outbox;
using namespace std::chrono_literals;
using ew::controller::OutboxMonitor;
using ew::controller::OutboxTarget;
using ew::controller::RunningPod;

TEST_CASE(
    "the operator reads each relay's pending rows and oldest age from the outbox pods' /status: an old row turns "
    "OutboxBacklog True, a pod that stops answering keeps the figures as stale") {
  Pg pg;
  const std::string table = createOutbox(pg, "outbox_status");
  // Rows written two minutes ago that no relay could publish yet.
  pg.exec("INSERT INTO " + table +
          " (event_type, topic, aggregate_id, payload, created_at) SELECT 'OrderCreated', 'outbox-status', 'o', "
          "'{}', now() - interval '2 minutes' FROM generate_series(1, 40)");
  ConfigSpec spec = relaySpec(table);
  spec.brokers = "127.0.0.1:" + std::to_string(freePort());  // nothing listens: every row is held
  spec.properties = "{message.timeout.ms: \"2000\"}";
  auto rt = std::make_unique<RuntimeProcess>("outbox-status", spec);

  // The runtime's side: the active relay counts its table.
  nlohmann::json relay;
  const bool counted = waitUntil(
      [&] {
        const auto body =
            nlohmann::json::parse(httpRequest(rt->opsPort(), "GET", "/status", "", "", {}, 2s).body, nullptr, false);
        if (body.is_discarded() || !body.contains("outbox")) return false;
        relay = body["outbox"][0];
        return relay.value("state", "") == "active" && relay.contains("pending");
      },
      30s);
  if (!counted)
    FAIL("no relay counting its table in /status: " << httpGet(rt->opsPort(), "/status") << "\n" << rt->log());
  CHECK(relay["name"] == "orders");
  CHECK(relay["pending"] == 40);
  CHECK(relay["oldestPendingAgeSeconds"].get<double>() >= 119);

  // The operator's side, through its real HTTP reader.
  std::vector<std::string> changes;
  OutboxMonitor monitor(
      ew::controller::httpPodStatusReader(2s),
      [&](const std::string&) {
        return std::vector<RunningPod>{{"w-outbox-0", "127.0.0.1"}};
      },
      [&](const std::string& key) { changes.push_back(key); }, ew::systemTime(), 200ms);
  monitor.track("shop/w", OutboxTarget{{"orders"}, rt->opsPort()});
  (void)monitor.pollDue();
  auto view = monitor.view("shop/w");
  REQUIRE(view);
  REQUIRE((*view)[0].figures);
  CHECK((*view)[0].figures->pendingRows == 40);
  CHECK((*view)[0].figures->pod == "w-outbox-0");
  const auto c = ew::controller::outboxBacklogCondition(*view);
  CHECK(c.status == "True");
  CHECK(c.reason == "OldRowsPending");
  CHECK_THAT(c.message, Catch::StartsWith("orders: 40 rows pending, oldest 1"));
  CHECK(changes == std::vector<std::string>{"shop/w"});

  // The pod is gone: the last figures stay, stale, and the monitor goes on.
  rt->signal(SIGKILL);
  rt->wait(10s);
  std::this_thread::sleep_for(300ms);
  (void)monitor.pollDue();
  view = monitor.view("shop/w");
  CHECK((*view)[0].staleReason == "StatusUnreadable");
  CHECK((*view)[0].figures->pendingRows == 40);
  CHECK(ew::controller::outboxBacklogCondition(*view).status == "True");
  CHECK(changes.size() == 2);
  pg.exec("DROP TABLE " + table);
}
