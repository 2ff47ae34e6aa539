#pragma once
// The outbox table over libpq (core/outbox_io.h OutboxStore): one session per
// relay, which holds the table's advisory lock
// (pg_try_advisory_lock(hashtextextended('eventworker-outbox:<table>', 0)))
// and LISTENs on the notify channel. The connection URI is read from
// connectionFile (a mounted Secret) or connectionEnv at every connect, so a
// rotated password is used on the next one; it is never logged (libpq's own
// error text names host and user, never the password). The session runs in
// UTC with server-side TCP keepalives (10 s idle, 5 s x 3 probes), so the
// server releases a silent relay's lock within about 25 s, and with
// enable_sort off, so a batch read walks the id index (a partial index on id
// WHERE status = 'PENDING' keeps it short; the README gives it), and with
// synchronous_commit off (a lost mark after a database crash is a duplicate).
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
  Result<std::vector<OutboxRow>> readBatch(int limit, const OutboxIdRange& skip) override;
  Status settle(const BatchSettlement& settlement) override;
  Result<OutboxBacklog> backlog() override;
  Result<bool> waitForNotify(std::chrono::milliseconds timeout) override;
  void disconnect() override;

  // The statements, for tests and for the reader of a slow query log.
  const std::string& selectSql() const { return select_; }

 private:
  Status exec(const std::string& sql);
  bool drainNotifications();

  const OutboxConfig c_;
  const std::string table_;  // quoted
  const std::string pendingWhere_;
  const std::string select_, selectSkipping_;
  PGconn* conn_ = nullptr;
};

// "a"."b" for a.b; "x" for x. REQUIRES: lower-case identifiers (config.h checks).
std::string quoteTable(const std::string& table);

}  // namespace ew::runtime
