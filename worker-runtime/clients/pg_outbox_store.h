#pragma once
// The outbox table over libpq (core/outbox_io.h OutboxStore): two sessions
// per relay. The reading one holds the table's advisory lock
// (pg_try_advisory_lock(hashtextextended('eventworker-outbox:<table>', 0))),
// LISTENs on the notify channel and reads each batch with its fence (the
// statement's snapshot and the table's writers from pg_locks, readable by
// any role); the marking one runs the UPDATE (or DELETE) of the batch before
// while the next is read. Marks are not fenced by the lock, and need not be:
// a row is marked only after Kafka acknowledged it, so a mark landing after
// the lock moved on can only spare the next holder a duplicate. The connection URI is read from
// connectionFile (a mounted Secret) or connectionEnv at every connect, so a
// rotated password is used on the next one; it is never logged (libpq's own
// error text names host and user, never the password). The session runs in
// UTC with server-side TCP keepalives (10 s idle, 5 s x 3 probes), so the
// server releases a silent relay's lock within about 25 s, and with
// enable_sort off, so a batch read walks the id index (a partial index on id
// WHERE status = 'PENDING' keeps it short; the README gives it), and with
// synchronous_commit off (a lost mark after a database crash is a duplicate).
// The reads and the usual mark are prepared once per session (parsing and
// planning them per batch was a tenth of the sessions' CPU, perf), and the
// reads return binary results: ids and created-at as integers, text as it
// is, so the database formats no number or date per row (to_char alone was
// 5 %).
//
// Not thread-safe: one relay thread.

#include <memory>
#include <string>

#include "core/config.h"
#include "core/outbox_io.h"

typedef struct pg_conn PGconn;

namespace ew::runtime {

class PgOutboxStore : public OutboxStore {
 public:
  explicit PgOutboxStore(OutboxConfig config);
  ~PgOutboxStore() override;

  Status connect() override;
  Result<bool> tryLock() override;
  Status startRead(int limit, std::optional<int64_t> after) override;
  Result<OutboxRead> finishRead() override;
  Status startSettle(const BatchSettlement& settlement) override;
  Status finishSettle() override;
  Result<OutboxBacklog> backlog() override;
  Result<bool> waitForNotify(std::chrono::milliseconds timeout) override;
  void disconnect() override;

  // The read statement (prepared at connect()), for tests and for the reader of a slow query log.
  const std::string& selectSql() const { return select_; }

 private:
  Status open(const std::string& uri, const char* role, PGconn*& conn);
  Status exec(PGconn* conn, const std::string& sql);
  // Prepares the reads (binary results; the payload as its column's type
  // allows) and the usual mark; parse and plan once per session, not per batch.
  Status prepare();
  bool drainNotifications();

  const OutboxConfig c_;
  const std::string table_;  // quoted
  const std::string pendingWhere_;
  const std::string markDone_;  // $1: the ids, bigint[]
  std::string select_;          // set by prepare()
  bool payloadIsJson_ = false, payloadJsonb_ = false;
  PGconn* conn_ = nullptr;    // reads, holds the lock, LISTENs
  PGconn* marker_ = nullptr;  // marks; an UPDATE may be under way on it (marking_)
  std::string markerPid_;
  bool marking_ = false;
};

// "a"."b" for a.b; "x" for x. REQUIRES: lower-case identifiers (config.h checks).
std::string quoteTable(const std::string& table);

}  // namespace ew::runtime
