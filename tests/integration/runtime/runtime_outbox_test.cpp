// The outbox relay (--mode outbox): the real runtime binary between the test
// servers' PostgreSQL and Kafka. Ledger-based: what the table committed is
// compared with what the topic holds (every committed row at least once, the
// first copy of each row in id order per key, duplicates counted, rolled-back
// rows never), through a relay killed with SIGKILL and its standby taking
// over, a row Kafka refuses, and NOTIFY against polling.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "outbox_harness.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace ew::rttest::outbox;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE(
    "every committed outbox row reaches Kafka once as a CloudEvent with the row id, in id order per key, and "
    "rolled-back rows never") {
  Kafka kafka;
  Pg pg;
  const std::string table = createOutbox(pg, "outbox_basic");
  const std::string topic = ew::testing::uniqueName("outbox-basic");
  kafka.createTopic(topic, 4);
  RuntimeProcess rt("outbox-basic", relaySpec(table, "notifyChannel: " + table));
  insertRows(pg, table, topic, 1, 300, 8);
  pg.exec("BEGIN");
  insertRows(pg, table, topic, 301, 310, 8);
  pg.exec("ROLLBACK");
  insertRows(pg, table, topic, 311, 500, 8);
  const int64_t committed = 490;
  INFO(rt.log());
  REQUIRE(waitUntil(
      [&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") == committed; }, 60s));
  const auto records = kafka.readAll(topic, committed, 60s);
  const TopicLedger l = ledgerOf(records);
  CHECK(records.size() == static_cast<size_t>(committed));
  CHECK(l.copies.size() == static_cast<size_t>(committed));
  CHECK(l.duplicates == 0);
  CHECK(l.orderViolations == 0);
  const auto rolledBack = pg.column("SELECT id FROM " + table + " WHERE id BETWEEN 301 AND 310");
  CHECK(rolledBack.empty());
  const auto ce = nlohmann::json::parse(records.at(0).value);
  CHECK(ce["type"] == "OrderCreated");
  CHECK(ce["specversion"] == "1.0");
  CHECK(ce["data"].contains("seq"));
  // The time as PostgreSQL formats the row's created_at (the relay reads it in binary).
  CHECK(ce["time"] ==
        pg.column("SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM " + table +
                  " WHERE id = " + ce["id"].get<std::string>())
            .at(0));
  CHECK(records.at(0).header("content-type") == "application/cloudevents+json");
  CHECK(records.at(0).key.value_or("").rfind("order-", 0) == 0);
  requireCleanExit(rt);
}

TEST_CASE(
    "a relay killed with SIGKILL mid-stream: the standby takes over, no committed row is lost and each key's "
    "rows first reach Kafka in id order") {
  Kafka kafka;
  Pg pg;
  const std::string table = createOutbox(pg, "outbox_failover");
  const std::string topic = ew::testing::uniqueName("outbox-failover");
  kafka.createTopic(topic, 4);
  auto first = std::make_unique<RuntimeProcess>("outbox-a", relaySpec(table, "notifyChannel: " + table));
  insertRows(pg, table, topic, 1, 100, 16);
  REQUIRE(
      waitUntil([&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") > 0; }, 30s));
  RuntimeProcess standby("outbox-b", relaySpec(table, "notifyChannel: " + table));
  // Writers keep committing (10 rows every 5 ms) while the active relay dies.
  Writer writer(table, topic, 101, 10, 5ms);
  std::this_thread::sleep_for(1500ms);
  first->signal(SIGKILL);
  const auto killedAt = Clock::now();
  first->wait(10s);
  std::this_thread::sleep_for(1500ms);
  const int64_t committed = writer.stop();
  INFO(standby.log());
  REQUIRE(waitUntil(
      [&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") == committed; }, 60s));
  const auto takeover = std::chrono::duration<double>(Clock::now() - killedAt).count();
  const auto records = kafka.readAll(topic, committed + 100000, 20s);  // all there is
  const TopicLedger l = ledgerOf(records);
  std::vector<int64_t> missing;
  for (int64_t id = 1; id <= committed; ++id)
    if (!l.copies.count(id)) missing.push_back(id);
  INFO("rows " << committed << ", on the topic " << records.size() << ", duplicates " << l.duplicates << ", caught up "
               << takeover << " s after the kill");
  CHECK(missing.empty());
  CHECK(l.orderViolations == 0);
  for (const auto& v : l.violations) UNSCOPED_INFO(v);
  WARN("failover: " << committed << " rows, " << l.duplicates << " duplicate(s) on the topic, all published "
                    << takeover << " s after the SIGKILL");
  requireCleanExit(standby);
}

TEST_CASE(
    "rows Kafka refuses for good (too large, no topic) are marked FAILED with the reason and the rows behind "
    "them flow") {
  Kafka kafka;
  Pg pg;
  const std::string table = createOutbox(pg, "outbox_refused");
  const std::string topic = ew::testing::uniqueName("outbox-refused");
  kafka.createTopic(topic, 1);
  insertRows(pg, table, topic, 1, 5, 1);
  // 1.5 MB: above the producer's message.max.bytes (1 MB), so refused before it is sent.
  pg.exec("INSERT INTO " + table + " (event_type, topic, aggregate_id, payload) VALUES ('OrderCreated', '" + topic +
          "', 'order-0', jsonb_build_object('blob', repeat('x', 1500000)))");
  insertRows(pg, table, topic, 7, 10, 1);
  // A row without a topic (the column allows '') is refused before it is sent.
  pg.exec("INSERT INTO " + table + " (event_type, topic, aggregate_id, payload) VALUES ('OrderCreated', '', " +
          "'order-0', '{}')");
  insertRows(pg, table, topic, 12, 12, 1);
  RuntimeProcess rt("outbox-refused", relaySpec(table));
  INFO(rt.log());
  REQUIRE(
      waitUntil([&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status <> 'PENDING'") == 12; }, 60s));
  CHECK(pg.column("SELECT error FROM " + table + " WHERE id = 11") == std::vector<std::string>{"the row has no topic"});
  CHECK(pg.column("SELECT status FROM " + table + " WHERE id = 6") == std::vector<std::string>{"FAILED"});
  const auto reason = pg.column("SELECT error FROM " + table + " WHERE id = 6").at(0);
  CHECK_THAT(reason, Catch::Contains("too large"));
  CHECK(pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") == 10);
  const auto records = kafka.readAll(topic, 10, 30s);
  CHECK(records.size() == 10);
  CHECK(ledgerOf(records).orderViolations == 0);
  requireCleanExit(rt);
}

TEST_CASE(
    "with topic auto-creation off, a row for a topic that does not exist is marked FAILED with the reason and the "
    "rows around it flow") {
  Kafka kafka;
  Pg pg;
  const std::string table = createOutbox(pg, "outbox_unknown_topic");
  const std::string topic = ew::testing::uniqueName("outbox-known");
  const std::string missing = ew::testing::uniqueName("outbox-never-created");
  kafka.createTopic(topic, 1);
  insertRows(pg, table, topic, 1, 5, 1);
  insertRows(pg, table, missing, 6, 6, 1);
  insertRows(pg, table, topic, 7, 10, 2);
  // The test broker creates topics on first use; a producer that does not
  // allow it asks for metadata without auto-creation, as against a broker
  // with auto.create.topics.enable=false. The topic's absence is believed
  // after 1 s instead of the default 30 s.
  ConfigSpec spec = relaySpec(table);
  spec.properties = "{allow.auto.create.topics: \"false\", topic.metadata.propagation.max.ms: \"1000\"}";
  RuntimeProcess rt("outbox-unknown-topic", spec);
  INFO(rt.log());
  REQUIRE(
      waitUntil([&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status <> 'PENDING'") == 10; }, 60s));
  CHECK(pg.column("SELECT status FROM " + table + " WHERE id = 6") == std::vector<std::string>{"FAILED"});
  const auto reason = pg.column("SELECT error FROM " + table + " WHERE id = 6").at(0);
  CHECK_THAT(reason, Catch::Contains("Unknown topic", Catch::CaseSensitive::No));
  CHECK(pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") == 9);
  const auto records = kafka.readAll(topic, 9, 30s);
  CHECK(records.size() == 9);
  CHECK(ledgerOf(records).orderViolations == 0);
  requireCleanExit(rt);
}

// Commit -> marked PUBLISHED (so after Kafka's acknowledgement), per row,
// one row at a time at a quiet relay.
std::vector<double> commitToPublished(Pg& pg, const std::string& table, const std::string& topic, int rows) {
  std::vector<double> ms;
  for (int i = 0; i < rows; ++i) {
    const auto t0 = Clock::now();
    pg.exec("INSERT INTO " + table + " (event_type, topic, payload) VALUES ('Ping', '" + topic + "', '{}')");
    const std::string id = pg.column("SELECT max(id) FROM " + table).at(0);
    REQUIRE(waitUntil(
        [&] { return pg.column("SELECT status FROM " + table + " WHERE id = " + id).at(0) == "PUBLISHED"; }, 10s));
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(37 * (i % 7)));  // commits at varied phases of the poll
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

TEST_CASE("NOTIFY wakes the relay at once while polling alone waits for its interval") {
  Kafka kafka;
  Pg pg;
  const std::string notified = createOutbox(pg, "outbox_notify");
  const std::string polled = createOutbox(pg, "outbox_poll");
  const std::string topic = ew::testing::uniqueName("outbox-latency");
  kafka.createTopic(topic, 1);
  RuntimeProcess a("outbox-notify", relaySpec(notified, "notifyChannel: " + notified + ", pollInterval: 1s"));
  RuntimeProcess b("outbox-poll", relaySpec(polled, "pollInterval: 1s"));
  INFO(a.log() << b.log());
  // Warm-up: the relays take their locks and their producers their
  // idempotence ids (about a second) before anything is measured.
  commitToPublished(pg, notified, topic, 1);
  commitToPublished(pg, polled, topic, 1);
  const auto n = commitToPublished(pg, notified, topic, 15);
  const auto p = commitToPublished(pg, polled, topic, 15);
  WARN("commit -> PUBLISHED, 15 rows each: NOTIFY p50 " << n[7] << " ms, max " << n.back() << " ms; poll 1s p50 "
                                                        << p[7] << " ms, max " << p.back() << " ms");
  CHECK(n[7] < 100);
  CHECK(n.back() < 500);
  CHECK(p[7] > 150);  // waits for the next poll: ~500 ms on average
  CHECK(p[7] > 3 * n[7]);
  requireCleanExit(a);
  requireCleanExit(b);
}

// Rows wait for every lower id to be final; a long transaction on another
// table holds nothing.
TEST_CASE("a row whose transaction drew a lower id but commits after a higher one still reaches Kafka first") {
  Kafka kafka;
  Pg pg, slow, elsewhere;
  const std::string table = createOutbox(pg, "outbox_horizon");
  const std::string topic = ew::testing::uniqueName("outbox-horizon");
  kafka.createTopic(topic, 1);
  elsewhere.exec("CREATE TABLE IF NOT EXISTS " + table + "_other (n int)");
  RuntimeProcess rt("outbox-horizon", relaySpec(table, "notifyChannel: " + table + ", pollInterval: 200ms"));
  INFO(rt.log());
  // A transaction writing (and holding an id of) another table the whole time.
  elsewhere.exec("BEGIN");
  elsewhere.exec("INSERT INTO " + table + "_other VALUES (1)");
  insertRows(pg, table, topic, 1, 1, 1);  // id 1, key order-0
  REQUIRE(
      waitUntil([&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") == 1; }, 30s));
  // id 2 drawn by a transaction left open; id 3, same key, committed after it.
  slow.exec("BEGIN");
  insertRows(slow, table, topic, 2, 2, 1);
  insertRows(pg, table, topic, 3, 3, 1);
  CHECK(pg.column("SELECT id FROM " + table + " WHERE aggregate_id = 'order-0' ORDER BY id") ==
        std::vector<std::string>{"1", "3"});
  std::this_thread::sleep_for(1500ms);  // many reads (NOTIFY, polls every 200 ms): 3 must wait for 2
  CHECK(pg.column("SELECT status FROM " + table + " WHERE id = 3") == std::vector<std::string>{"PENDING"});
  slow.exec("COMMIT");
  REQUIRE(
      waitUntil([&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") == 3; }, 30s));
  // A transaction that drew id 4 and rolled back holds nothing once it ended.
  slow.exec("BEGIN");
  insertRows(slow, table, topic, 4, 4, 1);
  insertRows(pg, table, topic, 5, 5, 1);
  slow.exec("ROLLBACK");
  REQUIRE(
      waitUntil([&] { return pg.count("SELECT count(*) FROM " + table + " WHERE status = 'PUBLISHED'") == 4; }, 30s));
  elsewhere.exec("ROLLBACK");
  const auto records = kafka.readAll(topic, 4, 30s);
  std::vector<int64_t> ids;
  for (const auto& r : records) ids.push_back(std::stoll(nlohmann::json::parse(r.value)["id"].get<std::string>()));
  CHECK(ids == std::vector<int64_t>{1, 2, 3, 5});
  CHECK(ledgerOf(records).orderViolations == 0);
  elsewhere.exec("DROP TABLE " + table + "_other");
  requireCleanExit(rt);
}
