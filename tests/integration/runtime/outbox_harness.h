#pragma once
// Helpers of the outbox relay's tests (runtime_outbox_test,
// runtime_outbox_faults_test): the test database, an outbox table of the
// guide's shape, relay configs, and the ledger of what a topic holds.
#include <libpq-fe.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "runtime_harness.h"
#include "test_env.h"

namespace ew::rttest::outbox {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One session to the test database; every statement must succeed.
class Pg {
 public:
  Pg() : conn_(PQconnectdb(ew::testing::serverEnv("EW_POSTGRES_URL").c_str())) {
    REQUIRE(PQstatus(conn_) == CONNECTION_OK);
  }
  ~Pg() { PQfinish(conn_); }
  Pg(const Pg&) = delete;
  Pg& operator=(const Pg&) = delete;
  void exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const auto st = PQresultStatus(r);
    INFO(sql << ": " << PQerrorMessage(conn_));
    PQclear(r);
    REQUIRE((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK));
  }
  // The first column of every row.
  std::vector<std::string> column(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    INFO(sql << ": " << PQerrorMessage(conn_));
    REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetisnull(r, i, 0) ? "" : PQgetvalue(r, i, 0));
    PQclear(r);
    return out;
  }
  int64_t count(const std::string& sql) { return std::stoll(column(sql).at(0)); }

 private:
  PGconn* conn_;
};

// The guide's table (id, event_type, topic, payload, status, created_at) plus
// a key and an error column, with the NOTIFY trigger the README gives.
inline std::string createOutbox(Pg& pg, const std::string& prefix) {
  const std::string table = prefix + "_" + std::to_string(::getpid());
  pg.exec("DROP TABLE IF EXISTS " + table);
  pg.exec("CREATE TABLE " + table +
          " (id bigserial PRIMARY KEY, event_type text NOT NULL, topic text NOT NULL, aggregate_id text,"
          " payload jsonb NOT NULL, status text NOT NULL DEFAULT 'PENDING', error text,"
          " created_at timestamptz NOT NULL DEFAULT clock_timestamp())");
  pg.exec("CREATE INDEX ON " + table + " (id) WHERE status = 'PENDING'");
  pg.exec("CREATE OR REPLACE FUNCTION " + table + "_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM " +
          "pg_notify('" + table + "', ''); RETURN NULL; END $$");
  pg.exec("CREATE TRIGGER " + table + "_notify AFTER INSERT ON " + table + " FOR EACH STATEMENT EXECUTE FUNCTION " +
          table + "_notify()");
  return table;
}

// A relay's connection URI as a mounted Secret holds it (a file).
inline std::string secretFile() {
  static const std::string path = [] {
    const std::string p = "/tmp/ew-outbox-secret-" + std::to_string(::getpid());
    std::ofstream(p) << ew::testing::serverEnv("EW_POSTGRES_URL") << "\n";
    return p;
  }();
  return path;
}

inline ConfigSpec relaySpec(const std::string& table, const std::string& extra = "") {
  ConfigSpec s;
  s.worker = "outbox";
  s.group = "outbox";
  s.mode = "outbox";
  s.outbox = "[{name: orders, connectionFile: " + secretFile() + ", table: " + table +
             ", columns: {key: aggregate_id, error: error}, batchSize: 100" + (extra.empty() ? "" : ", " + extra) +
             "}]";
  return s;
}

inline void insertRows(Pg& pg, const std::string& table, const std::string& topic, int from, int to, int keys) {
  std::string sql = "INSERT INTO " + table + " (event_type, topic, aggregate_id, payload) VALUES ";
  for (int i = from; i <= to; ++i)
    sql += std::string(i == from ? "" : ",") + "('OrderCreated', '" + topic + "', 'order-" + std::to_string(i % keys) +
           "', '{\"seq\": " + std::to_string(i) + "}')";
  pg.exec(sql);
}

inline bool waitUntil(const std::function<bool()>& pred, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A writer that keeps committing ROWS rows (16 keys) every PAUSE into TABLE
// from its own session until stop(); the ids run from FIRST on.
class Writer {
 public:
  Writer(const std::string& table, const std::string& topic, int first, int rows, std::chrono::milliseconds pause)
      : next_(first), thread_([=, this] {
          Pg w;
          while (writing_.load()) {
            const int from = next_.fetch_add(rows);
            insertRows(w, table, topic, from, from + rows - 1, 16);
            std::this_thread::sleep_for(pause);
          }
        }) {}
  ~Writer() { stop(); }
  // Stops and returns the last id committed.
  int64_t stop() {
    writing_.store(false);
    if (thread_.joinable()) thread_.join();
    return next_.load() - 1;
  }

 private:
  std::atomic<bool> writing_{true};
  std::atomic<int> next_;
  std::thread thread_;
};

struct TopicLedger {
  std::map<int64_t, int> copies;  // row id -> times on the topic
  int64_t duplicates = 0;
  int64_t orderViolations = 0;  // a key's first copy of a row after a later row's first copy
  std::vector<std::string> violations;
};

// Reads TOPIC (single partition or many: order is checked per key).
inline TopicLedger ledgerOf(const std::vector<Record>& records) {
  TopicLedger l;
  std::map<std::string, int64_t> lastFirstId;  // key -> the highest row id first seen
  for (const auto& r : records) {
    const auto ce = nlohmann::json::parse(r.value);
    const int64_t id = std::stoll(ce["id"].get<std::string>());
    if (l.copies[id]++ > 0) {
      ++l.duplicates;
      continue;
    }
    const std::string key = r.key.value_or("");
    if (lastFirstId.count(key) && lastFirstId[key] > id) {
      ++l.orderViolations;
      l.violations.push_back(key + ": " + std::to_string(id) + " after " + std::to_string(lastFirstId[key]));
    }
    lastFirstId[key] = std::max(lastFirstId[key], id);
  }
  return l;
}

}  // namespace ew::rttest::outbox
