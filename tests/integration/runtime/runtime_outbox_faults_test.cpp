// The outbox relay through faults of the servers it sits between
// (hack/server-restart.sh): PostgreSQL restarted, the broker down for 20 s.
// Rows committed meanwhile wait and are published once the server is back:
// none lost, no key reordered (the relay holds a key behind its first
// unacknowledged row), duplicates counted. Runs alone (SERIAL): it stops
// servers the other tests use.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "outbox_harness.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace ew::rttest::outbox;

namespace {

void restart(const std::string& server, int downSeconds) {
  const std::string cmd = "bash " EW_SOURCE_DIR "/hack/server-restart.sh " + ew::testing::serverEnv("EW_STATE_DIR") +
                          " " + server + " " + std::to_string(downSeconds) + " >&2";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

int64_t published(const std::string& table) {
  Pg pg;
  return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'");
}

}  // namespace

TEST_CASE("PostgreSQL restarted under a relay: it reconnects, takes its table again and publishes every row") {
  Kafka kafka;
  std::string table;
  const std::string topic = ew::testing::uniqueName("outbox-pg-restart");
  kafka.createTopic(topic, 4);
  {
    Pg pg;
    table = createOutbox(pg, "outbox_pg_restart");
    insertRows(pg, table, topic, 1, 200, 8);
  }
  RuntimeProcess rt("outbox-pg-restart", relaySpec(table, "notifyChannel: " + table));
  INFO(rt.log());
  REQUIRE(waitUntil([&] { return published(table) == 200; }, 30s));
  restart("postgres", 3);
  {
    Pg pg;  // a new session: the old ones went with the server
    insertRows(pg, table, topic, 201, 400, 8);
  }
  REQUIRE(waitUntil([&] { return published(table) == 400; }, 60s));
  const TopicLedger l = ledgerOf(kafka.readAll(topic, 400, 30s));
  CHECK(l.copies.size() == 400);
  CHECK(l.orderViolations == 0);
  CHECK(rt.running());
  WARN("postgres restart: 400 rows, " << l.duplicates << " duplicate(s)");
  requireCleanExit(rt);
}

TEST_CASE(
    "the broker down for 20 s under a relay and its writers: rows wait, then all reach Kafka, no key "
    "reordered") {
  Kafka kafka;
  std::string table;
  const std::string topic = ew::testing::uniqueName("outbox-broker-down");
  kafka.createTopic(topic, 4);
  {
    Pg pg;
    table = createOutbox(pg, "outbox_broker_down");
  }
  // Short message timeout: deliveries caught by the outage fail (transient)
  // within the 20 s, so the relay's hold-and-retry path runs.
  ConfigSpec spec = relaySpec(table, "notifyChannel: " + table);
  spec.properties = "{message.timeout.ms: \"5000\"}";
  RuntimeProcess rt("outbox-broker-down", spec);
  INFO(rt.log());
  Writer writer(table, topic, 1, 20, 50ms);
  std::this_thread::sleep_for(2s);
  restart("kafka", 20);
  std::this_thread::sleep_for(2s);
  const int64_t committed = writer.stop();
  REQUIRE(waitUntil([&] { return published(table) == committed; }, 120s));
  const auto records = kafka.readAll(topic, committed + 100000, 30s);
  const TopicLedger l = ledgerOf(records);
  std::vector<int64_t> missing;
  for (int64_t id = 1; id <= committed; ++id)
    if (!l.copies.count(id)) missing.push_back(id);
  CHECK(missing.empty());
  CHECK(l.orderViolations == 0);
  for (const auto& v : l.violations) UNSCOPED_INFO(v);
  CHECK(rt.running());
  WARN("broker down 20 s: " << committed << " rows, " << l.duplicates << " duplicate(s) on the topic");
  requireCleanExit(rt);
}
