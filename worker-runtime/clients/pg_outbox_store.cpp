#include "clients/pg_outbox_store.h"

#include <endian.h>
#include <libpq-fe.h>
#include <poll.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>

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

// AFTER: the ids above $3 only (after the batches in flight). Read in binary
// (PgOutboxStore::finishRead): ids and created-at as integers, text as it is,
// so the database formats no number or date per row. PAYLOAD: the payload
// column as it is, or cast to text when its type's binary form is not text.
std::string selectSql(const OutboxConfig& c, const std::string& table, const std::string& where, bool after,
                      const std::string& payload) {
  const auto& k = c.columns;
  const std::string above = quote(k.id) + " > $3";
  const std::string filter = !after ? where : where.empty() ? " WHERE " + above : where + " AND " + above;
  auto opt = [](const std::string& col, const char* cast) { return col.empty() ? "NULL" : quote(col) + cast; };
  return "SELECT " + quote(k.id) + "::bigint, " + (c.topic.empty() ? opt(k.topic, "::text") : "NULL") + ", " +
         opt(k.key, "::text") + ", " + opt(k.eventType, "::text") + ", " + payload + ", " + opt(k.headers, "::text") +
         ", " + quote(k.createdAt) + "::timestamptz, " + fenceSql(table) + " FROM " + table + filter + " ORDER BY " +
         quote(k.id) + " LIMIT $1";
}

constexpr const char* kRead = "ew_outbox_read";
constexpr const char* kReadAfter = "ew_outbox_read_after";
constexpr const char* kMarkDone = "ew_outbox_mark_done";
// Type oids whose binary form is their text (jsonb: a version byte first).
constexpr Oid kJson = 114, kJsonb = 3802, kText = 25, kVarchar = 1043, kBpchar = 1042;

int64_t bigEndian64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<int64_t>(be64toh(v));
}

std::string why(PGconn* conn) { return trimmed(conn ? PQerrorMessage(conn) : "no connection"); }

// A JSON object of strings (jsonb::text); anything else gives no headers.
Headers parseHeaders(std::optional<std::string_view> text) {
  Headers h;
  if (!text) return h;
  const auto j = nlohmann::json::parse(text->begin(), text->end(), nullptr, false);
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
      markDone_(c_.completion == OutboxCompletion::Delete
                    ? "DELETE FROM " + table_ + " WHERE " + quote(c_.columns.id) + " = ANY($1::bigint[])"
                    : "UPDATE " + table_ + " SET " + quote(c_.columns.status) + " = 'PUBLISHED' WHERE " +
                          quote(c_.columns.id) + " = ANY($1::bigint[])") {}

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
  if (auto st = prepare(); !st) {
    disconnect();
    return st;
  }
  return {};
}

Status PgOutboxStore::prepare() {
  // The payload column's type decides how the read returns it.
  const char* params[] = {table_.c_str(), c_.columns.payload.c_str()};
  ResultPtr t(PQexecParams(conn_,
                           "SELECT atttypid FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND "
                           "NOT attisdropped",
                           2, nullptr, params, nullptr, nullptr, 0));
  if (PQresultStatus(t.get()) != PGRES_TUPLES_OK) return Error{"reading " + c_.table + ": " + why(conn_)};
  if (PQntuples(t.get()) != 1) return Error{"reading " + c_.table + ": no payload column " + c_.columns.payload};
  const auto type = static_cast<Oid>(std::strtoul(PQgetvalue(t.get(), 0, 0), nullptr, 10));
  const bool asIs = type == kJson || type == kJsonb || type == kText || type == kVarchar || type == kBpchar;
  payloadIsJson_ = type == kJson || type == kJsonb;
  payloadJsonb_ = type == kJsonb;
  const std::string payload = quote(c_.columns.payload) + (asIs ? "" : "::text");
  select_ = runtime::selectSql(c_, table_, pendingWhere_, false, payload);
  auto prep = [&](PGconn* conn, const char* name, const std::string& sql, int nParams) -> Status {
    ResultPtr r(PQprepare(conn, name, sql.c_str(), nParams, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Error{"preparing " + std::string(name) + ": " + why(conn)};
    return {};
  };
  if (auto st = prep(conn_, kRead, select_, 2); !st) return st;
  if (auto st = prep(conn_, kReadAfter, runtime::selectSql(c_, table_, pendingWhere_, true, payload), 3); !st)
    return st;
  return prep(marker_, kMarkDone, markDone_, 1);
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
  if (!PQsendQueryPrepared(conn_, after ? kReadAfter : kRead, after ? 3 : 2, params, nullptr, nullptr, 1))
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
  auto value = [&](int i, int col) -> std::optional<std::string_view> {
    if (PQgetisnull(r.get(), i, col)) return std::nullopt;
    return std::string_view(PQgetvalue(r.get(), i, col), static_cast<size_t>(PQgetlength(r.get(), i, col)));
  };
  auto bigint = [&](int i, int col) -> std::optional<int64_t> {
    if (PQgetisnull(r.get(), i, col) || PQgetlength(r.get(), i, col) != 8) return std::nullopt;
    return bigEndian64(PQgetvalue(r.get(), i, col));
  };
  if (count > 0) {
    auto fence = parseReadFence(value(0, 7).value_or(""), value(0, 8).value_or(""));
    if (!fence)
      return Error{"reading " + c_.table + ": cannot parse the snapshot " + std::string(value(0, 7).value_or(""))};
    read.fence = std::move(*fence);
  }
  rows.reserve(count);
  for (int i = 0; i < count; ++i) {
    OutboxRow row;
    const auto id = bigint(i, 0);
    if (!id) return Error{"reading " + c_.table + ": a row without an id"};
    row.id = *id;
    row.topic = c_.topic.empty() ? std::string(value(i, 1).value_or("")) : c_.topic;
    if (auto v = value(i, 2)) row.key = std::string(*v);
    row.eventType = value(i, 3).value_or("");
    if (auto v = value(i, 4)) {
      if (payloadJsonb_) {  // jsonb's binary form: version 1, then its text
        if (v->empty() || (*v)[0] != 1) return Error{"reading " + c_.table + ": unknown jsonb binary version"};
        v->remove_prefix(1);
      }
      row.payload = *v;
    }
    row.payloadIsJson = payloadIsJson_;
    row.headers = parseHeaders(value(i, 5));
    if (auto micros = bigint(i, 6)) {
      row.createdAt = pgTimestampText(*micros);
      row.createdAtEpoch = pgTimestampEpoch(*micros);
    }
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
    if (!PQsendQueryPrepared(marker_, kMarkDone, 1, params, nullptr, nullptr, 0))
      return Error{"marking rows of " + c_.table + ": " + why(marker_)};
    marking_ = true;
    return {};
  }
  // Refusals are rare: their transaction runs to its end here.
  if (auto st = exec(marker_, "BEGIN"); !st) return st;
  Status st;
  if (!s.published.empty()) st = run(markDone_, {ids.c_str()});
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
