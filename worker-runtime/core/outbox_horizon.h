#pragma once
// The outbox relay's visibility horizon: the highest row id below which no
// row can still appear. Pure: no I/O, no clock.
//
// The hole it closes: ids come from a sequence when a row is inserted, but
// rows become visible when their transaction commits. A transaction that
// drew id 5 and commits after the one that drew id 6 leaves id 6 visible
// first; a relay that published 6 and then 5 would reorder key k (or, with a
// cursor "id > last", skip 5 for good). Transactions commit in any order,
// so no read can tell from the rows alone whether a gap below a visible id
// is a rollback or a transaction still running.
//
// The rule (DESIGN.md 10): a row is published only once every row with a
// lower id is final (committed or rolled back). Then rows reach Kafka in id
// order, and with them every key's rows, also rows written for one key by
// concurrent transactions that commit in the other order.
//
// How a read proves it (PgOutboxStore reads these with the rows, one
// statement): the read's own snapshot (pg_current_snapshot(): xmin, xmax,
// the transaction ids in progress) and, just after it, the transactions
// holding a write lock on the table (pg_locks). A transaction holds its
// RowExclusiveLock on the table from before its INSERT draws an id until it
// ends, so every transaction that drew an id below the highest id M the read
// saw either ended before the lock list was read (then any later snapshot
// sees its rows) or is in that list. Once every transaction of the list has
// ended as a later read's snapshot says, every id up to M is final: M is the
// horizon, and that later read's rows up to M are complete. A list with a
// writer that has no transaction id yet (it may have drawn an id and not
// written it) proves nothing: that read makes no candidate. A read whose
// list is empty proves its own M at once (the quiet table: one round trip).
// Why not the snapshot's xmin alone (the usual xmin horizon): it waits for
// every transaction of the whole cluster, so one long transaction elsewhere
// would stall the relay, and a writer that drew its id before its transaction
// id was assigned is not in the snapshot at all.
//
// Premises (README): ids come from the id column's sequence or identity
// during the INSERT (not drawn ahead with nextval() in an earlier
// statement), from a sequence without CACHE > 1 (the default), so ids grow
// in the order they are drawn.

#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

namespace ew::runtime {

// pg_current_snapshot() as text: "xmin:xmax:xip,xip,...".
struct PgSnapshot {
  uint64_t xmin = 0, xmax = 0;
  std::vector<uint64_t> inProgress;  // xip
  // True when transaction XID had ended (committed or aborted) when the
  // snapshot was taken.
  bool ended(uint64_t xid) const;
};
std::optional<PgSnapshot> parsePgSnapshot(std::string_view text);

// What a read saw besides its rows.
struct ReadFence {
  PgSnapshot snapshot;            // the read's snapshot (its rows are what it shows)
  std::vector<uint64_t> writers;  // transaction ids holding a write lock on the table just after
  bool writerWithoutTransactionId = false;
};

// The fence from the two texts a read returns beside its rows (PgOutboxStore):
// SNAPSHOT as pg_current_snapshot() gives it, WRITERS one group per writing
// transaction separated by ';', each the comma-separated 32-bit ids
// (pg_locks.transactionid) it holds, or '-' when it holds none; they are
// widened to 64 bits next to the snapshot's xmax.
std::optional<ReadFence> parseReadFence(std::string_view snapshot, std::string_view writers);

// Thread-compatible.
class OutboxHorizon {
 public:
  // A read that returned rows up to MAX_ID_READ with FENCE. Returns the
  // horizon after it: the rows of this read with an id up to it may be
  // published; the rest must be read again later.
  int64_t observe(const ReadFence& fence, int64_t maxIdRead);
  // The horizon so far: every id up to it is final. Starts below every id.
  int64_t horizon() const { return horizon_; }
  // Candidates not proven yet (for the metrics and tests).
  size_t waiting() const { return candidates_.size(); }
  // A new session: what was proven stays true (ids do not come back), the
  // candidates are dropped with the reads that made them.
  void resetCandidates() { candidates_.clear(); }

  static constexpr size_t kMaxCandidates = 64;  // older ones are implied by newer ones

 private:
  struct Candidate {
    int64_t maxId;
    std::vector<uint64_t> writers;
  };
  std::deque<Candidate> candidates_;  // oldest first, maxId increasing
  int64_t horizon_ = INT64_MIN;
};

}  // namespace ew::runtime
