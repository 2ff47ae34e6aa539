// The outbox relays on the real node: an EventWorker with spec.outbox, the
// <name>-outbox Deployment the operator renders, its two pods run by the
// kubelet. They reach the test servers' PostgreSQL on the node's bridge
// (EW_POSTGRES_POD_ADDRESS) as a role that may only read and mark the outbox
// table, its password in a Secret they mount, and publish to the broker's pod
// listener. The operator, in its pods, reads the relays' /status and reports
// status.outbox. What the table committed is compared with what the topic
// holds, through the deletion of the active pod. A second EventWorker, its
// broker a closed port at first, shows rows held PENDING in its status.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <random>

#include "kube_helpers.h"
#include "node_support.h"
#include "outbox_harness.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew;
using namespace ew::rttest::outbox;
using ew::testing::kubectl;
using ew::testing::serverEnv;
using kube::Json;
using namespace std::chrono_literals;

namespace {

std::string randomHex(size_t bytes) {
  std::random_device rd;
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned v = rd() & 0xff;
    out += digits[v >> 4];
    out += digits[v & 0xf];
  }
  return out;
}

// status.outbox[0] of the EventWorker (null when absent).
Json relayStatus(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  auto ew = api.get(e2e::kEventWorker, ns, name);
  if (!ew) return nullptr;
  const Json outbox = (*ew).value("status", Json::object()).value("outbox", Json::array());
  return outbox.empty() ? Json(nullptr) : outbox[0];
}

std::string rowsByStatus(Pg& pg, const std::string& table) {
  std::string out;
  for (const auto& line : pg.column("SELECT status || ' ' || count(*) || coalesce(' ' || max(error), '') FROM " +
                                    table + " GROUP BY status"))
    out += line + "; ";
  return out;
}

bool isPod(const std::vector<e2e::PodState>& pods, const std::string& name) {
  for (const auto& p : pods)
    if (p.name == name && !p.terminating) return true;
  return false;
}

// The row ids of the records, in the topic's order (one partition).
std::vector<int64_t> ids(const std::vector<rttest::Record>& records) {
  std::vector<int64_t> out;
  for (const auto& r : records) out.push_back(std::stoll(nlohmann::json::parse(r.value)["id"].get<std::string>()));
  return out;
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

}  // namespace

TEST_CASE(
    "an outbox pod on the node publishes the rows committed in PostgreSQL to Kafka in id order and marks them "
    "PUBLISHED, the standby takes over when the active pod is deleted, and status.outbox reports the rows a relay "
    "cannot publish yet as pending") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  Pg pg;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-outbox");
  const std::string name = "shop";
  const std::string table = createOutbox(pg, "e2e_outbox");
  const std::string heldTable = createOutbox(pg, "e2e_outbox_held");  // the second EventWorker's
  const std::string topic = ns + ".orders";
  kafka.createTopic(topic, 1);  // one partition: the topic's order is the rows' order

  // The relays' role reads and marks the table, nothing else.
  const std::string role = table + "_relay", password = randomHex(16);
  pg.exec("DROP ROLE IF EXISTS " + role);
  pg.exec("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
  pg.exec("GRANT SELECT, UPDATE ON " + table + ", " + heldTable + " TO " + role);
  const std::string url =
      "postgresql://" + role + ":" + password + "@" + serverEnv("EW_POSTGRES_POD_ADDRESS") + "/ew?connect_timeout=5";
  REQUIRE(api.create(kube::resources::kSecret, ns,
                     {{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata", {{"name", "orders-db"}, {"namespace", ns}}},
                      {"stringData", {{"url", url}}}}));

  Json ew = e2e::runtimeOnlyWorker(ns, name);
  ew["spec"]["outbox"] = Json::array({{{"name", "orders"},
                                       {"connectionSecretRef", {{"name", "orders-db"}}},
                                       {"table", table},
                                       {"columns", {{"key", "aggregate_id"}, {"error", "error"}}},
                                       {"notifyChannel", table},
                                       {"batchSize", 100}}});
  const double t0 = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, name, ew));
  const std::string pods = "eventworker.dev/name=" + name + ",eventworker.dev/component=outbox";
  REQUIRE(e2e::waitForPods(
      api, ns, pods, [&] { return e2e::readyPods(api, ns, pods) == 2; }, 180s));
  std::cout << "[figure] EventWorker applied -> both outbox pods Ready: " << e2e::nowSeconds() - t0 << " s\n";

  auto published = [&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'"); };
  // The rows a service commits reach the topic in id order, each once.
  double t = e2e::nowSeconds();
  insertRows(pg, table, topic, 1, 300, 8);
  REQUIRE(e2e::waitForPods(
      api, ns, pods, [&] { return published() == 300; }, 60s));
  std::cout << "[figure] 300 rows committed -> all PUBLISHED: " << e2e::nowSeconds() - t << " s\n";
  auto records = kafka.readAll(topic, 300, 60s);
  CHECK(ids(records) == range(1, 300));
  CHECK(ledgerOf(records).orderViolations == 0);
  if (!records.empty()) {
    const auto ce = nlohmann::json::parse(records[0].value);
    CHECK(ce["type"] == "OrderCreated");
    CHECK(records[0].key.value_or("") == "order-1");
  }

  // The operator reads the active relay from its pod: nothing pending.
  Json relay;
  REQUIRE(e2e::waitForPods(
      api, ns, pods,
      [&] {
        relay = relayStatus(api, ns, name);
        return relay.is_object() && isPod(e2e::pods(api, ns, pods), relay.value("activePod", "")) &&
               relay.value("pendingRows", -1) == 0 && !relay.value("stale", true);
      },
      60s));
  const std::string active = relay["activePod"];

  // The active pod is deleted while rows keep coming: the standby takes the
  // table's lock and publishes what follows. Every row still reaches the
  // topic once, in id order.
  t = e2e::nowSeconds();
  REQUIRE(api.remove(kube::resources::kPod, ns, active));
  insertRows(pg, table, topic, 301, 350, 8);
  REQUIRE(e2e::waitForPods(
      api, ns, pods,
      [&] {
        relay = relayStatus(api, ns, name);
        const std::string now = relay.is_object() ? relay.value("activePod", "") : "";
        return now != active && isPod(e2e::pods(api, ns, pods), now);
      },
      60s));
  std::cout << "[figure] active outbox pod deleted -> status.outbox names the other pod active: "
            << e2e::nowSeconds() - t << " s\n";
  insertRows(pg, table, topic, 351, 400, 8);
  REQUIRE(e2e::waitForPods(
      api, ns, pods, [&] { return published() == 400; }, 60s));
  records = kafka.readAll(topic, 400, 60s);
  CHECK(ids(records) == range(1, 400));
  CHECK(ledgerOf(records).duplicates == 0);

  // A second EventWorker whose relays cannot reach their broker (a closed
  // port on the bridge) holds its table's rows PENDING, and its status says
  // how many and how old. Pointed at the broker, its new pods publish them.
  insertRows(pg, heldTable, topic, 1, 20, 4);
  const std::string held = "held";
  Json stalled = e2e::runtimeOnlyWorker(ns, held);
  stalled["spec"]["source"]["kafka"]["brokers"] = {"10.244.0.1:" + std::to_string(rttest::freePort())};
  stalled["spec"]["outbox"] = ew["spec"]["outbox"];
  stalled["spec"]["outbox"][0]["table"] = heldTable;
  stalled["spec"]["outbox"][0]["notifyChannel"] = heldTable;
  t = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, held, stalled));
  const std::string heldPods = "eventworker.dev/name=" + held + ",eventworker.dev/component=outbox";
  const e2e::PodWait counted = e2e::waitForPods(
      api, ns, heldPods,
      [&] {
        relay = relayStatus(api, ns, held);
        return relay.is_object() && relay.value("pendingRows", -1) == 20 && !relay.value("stale", true);
      },
      90s);
  if (!counted) {
    std::string log;
    kubectl("-n " + ns + " logs --tail=30 -l " + heldPods + " -c runtime", &log);
    FAIL("status.outbox[0]: " << relay.dump() << "\nrows by status: " << rowsByStatus(pg, heldTable)
                              << "\nthe relays' logs:\n"
                              << log << "\n"
                              << counted);
  }
  std::cout << "[figure] EventWorker with an unreachable broker applied -> status.outbox pendingRows 20: "
            << e2e::nowSeconds() - t << " s\n";
  CHECK(pg.count("SELECT count(*) FROM " + heldTable + " WHERE status = 'PENDING'") == 20);
  // The condition says so too: Flowing while the oldest is younger than a
  // minute, OldRowsPending after.
  auto got = api.get(e2e::kEventWorker, ns, held);
  REQUIRE(got);
  Json backlog;
  for (const auto& c : (*got)["status"].value("conditions", Json::array()))
    if (c.value("type", "") == "OutboxBacklog") backlog = c;
  INFO(got->dump());
  REQUIRE(backlog.is_object());
  const bool old = (*got)["status"]["outbox"][0].value("oldestPendingAgeSeconds", 0) >= 60;
  CHECK(backlog.value("status", "") == (old ? "True" : "False"));
  CHECK(backlog.value("reason", "") == (old ? "OldRowsPending" : "Flowing"));
  CHECK_THAT(backlog.value("message", ""), Catch::StartsWith("orders: 20 rows pending"));

  stalled["spec"]["source"]["kafka"]["brokers"] = {e2e::podBootstrap()};
  t = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, held, stalled));
  REQUIRE(e2e::waitForPods(
      api, ns, heldPods,
      [&] { return pg.count("SELECT count(*) FROM " + heldTable + " WHERE status = 'PUBLISHED'") == 20; }, 90s));
  std::cout << "[figure] broker fixed in the spec -> the 20 held rows PUBLISHED: " << e2e::nowSeconds() - t << " s\n";
  records = kafka.readAll(topic, 420, 60s);
  REQUIRE(records.size() == 420);
  std::vector<int64_t> heldIds(ids(records));
  CHECK(std::vector<int64_t>(heldIds.begin() + 400, heldIds.end()) == range(1, 20));  // the held table's ids
  REQUIRE(e2e::waitForPods(
      api, ns, heldPods,
      [&] {
        relay = relayStatus(api, ns, held);
        return relay.is_object() && relay.value("pendingRows", -1) == 0 && !relay.value("stale", true);
      },
      60s));
  kubectl("delete namespace " + ns + " --wait=false");
}
