#include "clients/pg_outbox_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace ew::runtime {
namespace {

std::string quote(const std::string& identifier) { return "\"" + identifier + "\""; }

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string pendingWhere(const OutboxConfig& c) {
  return c.columns.status.empty() ? "" : " WHERE " + quote(c.columns.status) + " = 'PENDING'";
}

// The read's fence (core/outbox_horizon.h), two uncorrelated subqueries
// evaluated once, at the first row: the statement's own snapshot, and then the
// transactions holding a write lock on the table (but this session and the
// marking one, $2, which insert nothing), each as its transaction ids or '-'.
std::string fenceSql(const std::string& table) {
  return "(SELECT pg_current_snapshot()::text), "
         "(SELECT coalesce(string_agg(coalesce(w.xids, '-'), ';'), '') FROM (SELECT string_agg(transactionid::text, "
         "',') FILTER (WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted) AS xids, "
         "bool_or(locktype = 'relation' AND relation = '" +
         table +
         "'::regclass AND granted AND mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', "
         "'AccessExclusiveLock')) AS writes FROM pg_locks WHERE coalesce(pid, 0) NOT IN (pg_backend_pid(), $2) "
         "GROUP BY virtualtransaction) w WHERE w.writes)";
}

// AFTER: the ids above $3 only (after the batches in flight).
std::string selectSql(const OutboxConfig& c, const std::string& table, const std::string& where, bool after) {
  const auto& k = c.columns;
  const std::string above = quote(k.id) + " > $3";
  const std::string filter = !after ? where : where.empty() ? " WHERE " + above : where + " AND " + above;
  auto opt = [](const std::string& col, const char* cast) { return col.empty() ? "NULL" : quote(col) + cast; };
  return "SELECT " + quote(k.id) + "::bigint, " + (c.topic.empty() ? opt(k.topic, "::text") : "NULL") + ", " +
         opt(k.key, "::text") + ", " + opt(k.eventType, "::text") + ", " + quote(k.payload) + ", " +
         opt(k.headers, "::text") + ", to_char(" + quote(k.createdAt) +
         ", 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), extract(epoch from " + quote(k.createdAt) + ")::float8, " +
         fenceSql(table) + " FROM " + table + filter + " ORDER BY " + quote(k.id) + " LIMIT $1";
}

std::string why(PGconn* conn) { return trimmed(conn ? PQerrorMessage(conn) : "no connection"); }

// A JSON object of strings (jsonb::text); anything else gives no headers.
Headers parseHeaders(const char* text) {
  Headers h;
  if (!text) return h;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return h;
  for (const auto& [k, v] : j.items())
    if (v.is_string()) h.emplace_back(k, v.get<std::string>());
  return h;
}

}  // namespace

std::string quoteTable(const std::string& table) {
  const auto dot = table.find('.');
  return dot == std::string::npos ? quote(table) : quote(table.substr(0, dot)) + "." + quote(table.substr(dot + 1));
}

PgOutboxStore::PgOutboxStore(OutboxConfig config)
    : c_(std::move(config)),
      table_(quoteTable(c_.table)),
      pendingWhere_(pendingWhere(c_)),
      select_(runtime::selectSql(c_, table_, pendingWhere_, false)),
      selectAfter_(runtime::selectSql(c_, table_, pendingWhere_, true)) {}

PgOutboxStore::~PgOutboxStore() { disconnect(); }

void PgOutboxStore::disconnect() {
  for (PGconn** c : {&conn_, &marker_}) {
    if (*c) PQfinish(*c);
    *c = nullptr;
  }
  marking_ = false;
}

Status PgOutboxStore::exec(PGconn* conn, const std::string& sql) {
  ResultPtr r(PQexec(conn, sql.c_str()));
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error{why(conn)};
  return {};
}

Status PgOutboxStore::connect() {
  auto up = [](PGconn* c) { return c && PQstatus(c) == CONNECTION_OK; };
  if (up(conn_) && up(marker_)) return {};
  disconnect();
  std::string uri;
  if (!c_.connectionFile.empty()) {
    std::ifstream in(c_.connectionFile);
    if (!in) return Error{"outbox " + c_.name + ": cannot read connectionFile " + c_.connectionFile};
    std::stringstream text;
    text << in.rdbuf();
    uri = trimmed(text.str());
  } else {
    const char* v = std::getenv(c_.connectionEnv.c_str());
    if (!v) return Error{"outbox " + c_.name + ": connectionEnv " + c_.connectionEnv + " is not set"};
    uri = trimmed(v);
  }
  if (auto s = open(uri, "", conn_); !s) return s;
  if (auto s = open(uri, "-marks", marker_); !s) return s;
  markerPid_ = std::to_string(PQbackendPID(marker_));
  if (!c_.notifyChannel.empty())
    if (auto st = exec(conn_, "LISTEN " + quote(c_.notifyChannel)); !st) return st;
  return {};
}

Status PgOutboxStore::open(const std::string& uri, const char* role, PGconn*& conn) {
  const std::string app = "eventworker-outbox-" + c_.name + role;
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {uri.c_str(), "5", app.c_str(), nullptr};
  conn = PQconnectdbParams(keys, values, 1);
  if (PQstatus(conn) != CONNECTION_OK) {
    Error e{"outbox " + c_.name + ": cannot connect to the database: " + why(conn)};
    disconnect();
    return e;
  }
  // enable_sort off: a batch read walks an index in id order and stops after
  // batchSize rows. With the statistics of a table that has just filled (a
  // burst after a quiet spell) the planner would rather fetch every pending
  // row and sort them, per batch: measured 69 ms instead of 0.4 ms a batch
  // at 48,000 pending rows. The session runs nothing else that sorts.
  // synchronous_commit off: a marking transaction returns without waiting
  // for its WAL flush. A database crash can lose the last marks (about
  // 3 x wal_writer_delay); those rows are published again, in id order:
  // duplicates, which at-least-once allows, never a lost or reordered row.
  for (const char* s : {"SET TIME ZONE 'UTC'", "SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
                        "SET tcp_keepalives_count = 3", "SET statement_timeout = '30s'", "SET enable_sort = off",
                        "SET synchronous_commit = off"})
    if (auto st = exec(conn, s); !st) {
      disconnect();
      return st;
    }
  return {};
}

Result<bool> PgOutboxStore::tryLock() {
  if (!conn_) return Error{"no session"};
  const std::string key = "eventworker-outbox:" + c_.table;
  const char* params[] = {key.c_str()};
  ResultPtr r(PQexecParams(conn_, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, nullptr, params, nullptr,
                           nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return Error{why(conn_)};
  return std::string(PQgetvalue(r.get(), 0, 0)) == "t";
}

Status PgOutboxStore::startRead(int limit, std::optional<int64_t> after) {
  if (!conn_) return Error{"no session"};
  const std::string n = std::to_string(limit), from = std::to_string(after.value_or(0));
  const char* params[] = {n.c_str(), markerPid_.c_str(), from.c_str()};
  const std::string& sql = after ? selectAfter_ : select_;
  if (!PQsendQueryParams(conn_, sql.c_str(), after ? 3 : 2, nullptr, params, nullptr, nullptr, 0))
    return Error{"reading " + c_.table + ": " + why(conn_)};
  return {};
}

Result<OutboxRead> PgOutboxStore::finishRead() {
  if (!conn_) return Error{"no session"};
  ResultPtr r(PQgetResult(conn_));
  while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);  // to the end of the reply
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return Error{"reading " + c_.table + ": " + why(conn_)};
  OutboxRead read;
  auto& rows = read.rows;
  const int count = PQntuples(r.get());
  if (count > 0) {
    auto fence = parseReadFence(PQgetvalue(r.get(), 0, 8), PQgetvalue(r.get(), 0, 9));
    if (!fence) return Error{"reading " + c_.table + ": cannot parse the snapshot " + PQgetvalue(r.get(), 0, 8)};
    read.fence = std::move(*fence);
  }
  rows.reserve(count);
  // A json or jsonb payload column (type oids 114, 3802) holds valid JSON.
  const Oid payloadType = PQftype(r.get(), 4);
  const bool payloadIsJson = payloadType == 114 || payloadType == 3802;
  auto text = [&](int i, int col) -> const char* {
    return PQgetisnull(r.get(), i, col) ? nullptr : PQgetvalue(r.get(), i, col);
  };
  for (int i = 0; i < count; ++i) {
    OutboxRow row;
    row.id = std::strtoll(text(i, 0), nullptr, 10);
    row.topic = c_.topic.empty() ? (text(i, 1) ? text(i, 1) : "") : c_.topic;
    if (text(i, 2)) row.key = text(i, 2);
    if (text(i, 3)) row.eventType = text(i, 3);
    if (text(i, 4)) row.payload = text(i, 4);
    row.payloadIsJson = payloadIsJson;
    row.headers = parseHeaders(text(i, 5));
    if (text(i, 6)) row.createdAt = text(i, 6);
    if (text(i, 7)) row.createdAtEpoch = std::strtod(text(i, 7), nullptr);
    rows.push_back(std::move(row));
  }
  return read;
}

Status PgOutboxStore::startSettle(const BatchSettlement& s) {
  if (!marker_) return Error{"no session"};
  if (s.published.empty() && s.refused.empty()) return {};
  std::string ids = "{";
  for (size_t i = 0; i < s.published.size(); ++i) ids += (i ? "," : "") + std::to_string(s.published[i]);
  ids += "}";
  const auto& k = c_.columns;
  const std::string done = c_.completion == OutboxCompletion::Delete
                               ? "DELETE FROM " + table_ + " WHERE " + quote(k.id) + " = ANY($1::bigint[])"
                               : "UPDATE " + table_ + " SET " + quote(k.status) + " = 'PUBLISHED' WHERE " +
                                     quote(k.id) + " = ANY($1::bigint[])";
  const std::string fail = k.status.empty() ? "DELETE FROM " + table_ + " WHERE " + quote(k.id) + " = $1::bigint"
                                            : "UPDATE " + table_ + " SET " + quote(k.status) + " = 'FAILED'" +
                                                  (k.error.empty() ? "" : ", " + quote(k.error) + " = $2") + " WHERE " +
                                                  quote(k.id) + " = $1::bigint";
  auto run = [&](const std::string& sql, std::vector<const char*> params) -> Status {
    ResultPtr r(PQexecParams(marker_, sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(), nullptr,
                             nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Error{"marking rows of " + c_.table + ": " + why(marker_)};
    return {};
  };
  // The usual batch, all published: one statement, sent; finishSettle() takes its result.
  if (s.refused.empty()) {
    const char* params[] = {ids.c_str()};
    if (!PQsendQueryParams(marker_, done.c_str(), 1, nullptr, params, nullptr, nullptr, 0))
      return Error{"marking rows of " + c_.table + ": " + why(marker_)};
    marking_ = true;
    return {};
  }
  // Refusals are rare: their transaction runs to its end here.
  if (auto st = exec(marker_, "BEGIN"); !st) return st;
  Status st;
  if (!s.published.empty()) st = run(done, {ids.c_str()});
  for (size_t i = 0; st && i < s.refused.size(); ++i) {
    const std::string id = std::to_string(s.refused[i].first);
    st = k.status.empty() || k.error.empty() ? run(fail, {id.c_str()})
                                             : run(fail, {id.c_str(), s.refused[i].second.c_str()});
  }
  if (!st) {
    (void)exec(marker_, "ROLLBACK");  // ST is the news; a failed ROLLBACK means a broken session, which ends it too
    return st;
  }
  return exec(marker_, "COMMIT");
}

Status PgOutboxStore::finishSettle() {
  if (!marking_) return {};
  marking_ = false;
  Status st;
  while (PGresult* raw = PQgetResult(marker_)) {
    ResultPtr r(raw);
    if (st && PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      st = Error{"marking rows of " + c_.table + ": " + why(marker_)};
  }
  return st;
}

Result<OutboxBacklog> PgOutboxStore::backlog() {
  if (!marker_) return Error{"no session"};
  const std::string sql = "SELECT count(*), coalesce(extract(epoch from now() - min(" + quote(c_.columns.createdAt) +
                          ")), 0)::float8 FROM " + table_ + pendingWhere_;
  ResultPtr r(PQexec(marker_, sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return Error{why(marker_)};
  return OutboxBacklog{std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10),
                       std::max(0.0, std::strtod(PQgetvalue(r.get(), 0, 1), nullptr))};
}

bool PgOutboxStore::drainNotifications() {
  bool any = false;
  while (PGnotify* n = PQnotifies(conn_)) {
    any = true;
    PQfreemem(n);
  }
  return any;
}

Result<bool> PgOutboxStore::waitForNotify(std::chrono::milliseconds timeout) {
  if (!conn_) return Error{"no session"};
  if (c_.notifyChannel.empty()) return false;
  if (drainNotifications()) return true;  // came in with a query's reply
  pollfd p{PQsocket(conn_), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  if (!PQconsumeInput(conn_)) return Error{"outbox " + c_.name + ": " + why(conn_)};
  return drainNotifications();
}

}  // namespace ew::runtime
