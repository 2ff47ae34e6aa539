#pragma once
// The fan-out core of a stream (pure; the shell in streams_mode.h locks it):
// a ring of the stream's recent events in the order its one Kafka reader took
// them, shared by every client, and each client's cursor into it.
//
// Why a shared ring and not a buffer per client: an event is formatted once
// and held once (a shared pointer) however many clients get it; a client's
// "buffer" is the span of the ring between its cursor and the head, so its
// bound costs no memory of its own, and a slow client never holds events
// others need. The ring's size (replayEvents) bounds the memory of a stream;
// it also serves reconnecting clients whose position it still covers.
// Clients resuming from further back are caught up by a reader of their own
// (streams/catch_up.h) until the ring covers them.
//
// Positions: a stream's partitions have dense indexes (StreamLayout); a
// Position is the next offset per partition. A client's position only moves
// forward, and an event is given to a client only when its offset is at or
// past the client's position for its partition: a client that joins with a
// position made by another pod (which read the partitions interleaved in
// another order, and maybe further) gets each offset once.
//
// Added partitions: grow() appends partitions the reader starts at their
// beginning (their origin). A position shorter than the ring (a client's, or
// an event's `after`, made before) is read as at the origin of each partition
// it lacks: its holder has had nothing of them.
//
// Not thread-safe.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "streams/stream_layout.h"

namespace ew::runtime {

struct StreamEvent {
  uint32_t part = 0;
  int64_t offset = 0;
  Position after;           // the stream's position after this event
  std::string idLine;       // "id: <resume token of after>\n"
  std::string body;         // "data: ...\n\n"
  int64_t timestampMs = 0;  // the record's timestamp (delivery latency)
};
using StreamEventPtr = std::shared_ptr<const StreamEvent>;

class ReplayRing {
 public:
  // START: where the reader starts each partition (what the ring covers from).
  ReplayRing(size_t capacity, Position start);
  // The reader starts more partitions (the next indexes) at ORIGIN.
  void grow(const Position& origin);

  // The reader took a record of PART at OFFSET; EVENT when it passed the
  // stream's filter (nullptr when not). Evicts the oldest event past capacity.
  // False (and nothing changes) for an offset below head(): the reader
  // started the partition before this stream's start, or read it again.
  bool take(uint32_t part, int64_t offset, StreamEventPtr event);

  uint64_t begin() const { return begin_; }  // sequence number of the oldest event held
  uint64_t end() const { return begin_ + events_.size(); }
  // REQUIRES: begin() <= seq < end().
  const StreamEventPtr& at(uint64_t seq) const { return events_[seq - begin_]; }
  // The reader's position: the next offset of each partition.
  const Position& head() const { return head_; }
  // Per partition, the lowest offset from which every event up to head() is
  // held (or was filtered out).
  const Position& floor() const { return floor_; }
  // Where the reader started each partition.
  const Position& origin() const { return origin_; }
  // POS's entry for PART (origin() when POS is shorter).
  int64_t entry(const Position& pos, size_t part) const { return part < pos.size() ? pos[part] : origin_[part]; }
  // Every partition of POS is at or past floor().
  bool covers(const Position& pos) const;
  // The first sequence number holding an event at or past POS (end() if none).
  uint64_t firstDeliverable(const Position& pos) const;

 private:
  size_t capacity_;
  uint64_t begin_ = 0;
  std::deque<StreamEventPtr> events_;
  Position head_, floor_, origin_;
};

// One client's place in a stream.
struct ClientCursor {
  uint64_t seq = 0;  // the next sequence number to look at
  Position pos;      // the next offset per partition the client has not had
  // Ahead of some event's `after` (it joined with another pod's position):
  // its ids are made from its own position until that no longer holds.
  bool ahead = false;
};

// The lag rule. A client's buffer is the span of the ring between its cursor
// and the head. A burst can put every client far behind at once, and a
// resumed client starts behind: neither is slow while it gains on the head.
// A client is cut off when it has been more than clientBuffer events behind
// and not gaining (its distance to the head not shrinking) for stallTicks
// ticks in a row: one that stopped reading, or reads slower than the stream.
struct LagWatch {
  uint64_t lastBehind = 0;
  int stalled = 0;
};
// Called once per tick with the client's distance to the head; true: cut it.
bool lagging(LagWatch& watch, uint64_t behind, uint64_t clientBuffer, int stallTicks);

// A client that starts live: at the head, nothing replayed.
ClientCursor liveCursor(const ReplayRing& ring);
// A client resuming from POS. REQUIRES: ring.covers(POS).
ClientCursor resumeCursor(const ReplayRing& ring, Position pos);
// Extends POS to every partition of RING (each added one at its origin).
void extend(const ReplayRing& ring, Position& pos);

// One event to write: EVENT's text, with OWN_ID in place of its id line when
// not empty.
struct OutgoingEvent {
  StreamEventPtr event;
  std::string ownId;
};

enum class TakeOutcome {
  Taken,  // zero or more events appended
  Lost,   // events the client has not had left the ring
};

// Appends to OUT the next events (at most MAX) the client has not had and
// moves its cursor past them. ENCODE_ID makes an id line from a position
// (used while the client is ahead).
template <typename EncodeId>
TakeOutcome takeEvents(const ReplayRing& ring, ClientCursor& c, size_t max, std::vector<OutgoingEvent>& out,
                       const EncodeId& encodeId);

}  // namespace ew::runtime

#include "streams/replay_ring_take.h"
