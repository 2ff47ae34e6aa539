#pragma once
// The seams of the outbox relay (loops/outbox_relay.h): the table and the
// producer. Real ones: clients/pg_outbox_store.h (libpq),
// clients/kafka_outbox_producer.h (librdkafka); fakes in the relay's unit test.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/outbox_batch.h"
#include "core/outbox_horizon.h"
#include "core/outbox_report.h"
#include "ew/result.h"

namespace ew::runtime {

// A batch read: the rows and what proves which of them are final
// (core/outbox_horizon.h).
struct OutboxRead {
  std::vector<OutboxRow> rows;
  ReadFence fence;
};

// Two database sessions: one reads (and holds the lock), one marks, so that
// marking a batch overlaps reading and producing the next. Not thread-safe:
// one relay thread uses it.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  // (Re)connects both sessions when one is missing; LISTENs on the notify channel.
  virtual Status connect() = 0;
  // True when this session now holds the table's relay lock (it may already).
  // The lock lives and dies with the session: a relay that lost its session
  // lost the lock, and can mark nothing any more.
  virtual Result<bool> tryLock() = 0;
  // Sends the read of up to LIMIT pending rows in id order, the first pending
  // ones or those after AFTER (the last row in flight or being marked: every
  // lower id is final, core/outbox_horizon.h), and returns: the relay
  // produces the batch before while the database reads. The reading session
  // runs nothing else until finishRead().
  virtual Status startRead(int limit, std::optional<int64_t> after) = 0;
  // The rows of the read started last, with the read's fence.
  // REQUIRES: a read was started and not finished.
  virtual Result<OutboxRead> finishRead() = 0;
  // Starts one transaction on the marking session: PUBLISHED rows marked
  // done (or deleted), REFUSED rows marked failed with their reason (or
  // deleted when the table has no status). Returns without waiting for it.
  // REQUIRES: the last one started was finished.
  virtual Status startSettle(const BatchSettlement& settlement) = 0;
  // Waits until the transaction started last has committed (OK when none is
  // under way). A failure means it may or may not have committed.
  virtual Status finishSettle() = 0;
  // Counts the pending rows on the marking session.
  // REQUIRES: no mark under way (finishSettle() returned).
  virtual Result<OutboxBacklog> backlog() = 0;
  // Waits up to TIMEOUT for a notification on the channel; true when one came.
  // Returns at once when there is no channel (false) or on a session error.
  virtual Result<bool> waitForNotify(std::chrono::milliseconds timeout) = 0;
  // Drops both sessions (and with them the lock).
  virtual void disconnect() = 0;
};
using OutboxStorePtr = std::unique_ptr<OutboxStore>;

// Publishes batches in order, several in flight: produce() enqueues a batch
// and returns at once; collect() waits for the delivery report of every row
// of a batch produced earlier (bounded by the producer's message timeout)
// while the batches produced after it go on. Thread-compatible.
class OutboxPublisher {
 public:
  virtual ~OutboxPublisher() = default;
  // REQUIRES: ROWS in increasing id order, above every row produced before
  // and not collected yet.
  virtual void produce(const std::vector<OutboxRow>& rows) = 0;
  // REQUIRES: ROWS were given to produce() and not collected yet.
  virtual std::map<int64_t, DeliveryReport> collect(const std::vector<OutboxRow>& rows) = 0;
};
using OutboxPublisherPtr = std::unique_ptr<OutboxPublisher>;

}  // namespace ew::runtime
