#include "streams/replay_ring.h"

#include <algorithm>
#include <cassert>

namespace ew::runtime {

ReplayRing::ReplayRing(size_t capacity, Position start)
    : capacity_(std::max<size_t>(1, capacity)), head_(start), floor_(start), origin_(std::move(start)) {}

void ReplayRing::grow(const Position& origin) {
  for (Position* p : {&head_, &floor_, &origin_}) p->insert(p->end(), origin.begin(), origin.end());
}

bool ReplayRing::take(uint32_t part, int64_t offset, StreamEventPtr event) {
  assert(part < head_.size());
  if (offset < head_[part]) return false;
  head_[part] = offset + 1;
  if (!event) return true;
  events_.push_back(std::move(event));
  if (events_.size() <= capacity_) return true;
  const StreamEventPtr& oldest = events_.front();
  floor_[oldest->part] = std::max(floor_[oldest->part], oldest->offset + 1);
  events_.pop_front();
  ++begin_;
  return true;
}

bool ReplayRing::covers(const Position& pos) const {
  if (pos.size() > floor_.size()) return false;
  for (size_t i = 0; i < floor_.size(); ++i)
    if (entry(pos, i) < floor_[i]) return false;
  return true;
}

uint64_t ReplayRing::firstDeliverable(const Position& pos) const {
  for (uint64_t seq = begin_; seq < end(); ++seq) {
    const StreamEventPtr& e = at(seq);
    if (e->offset >= entry(pos, e->part)) return seq;
  }
  return end();
}

bool aheadOf(const ReplayRing& ring, const Position& pos, const Position& after) {
  for (size_t i = 0; i < pos.size(); ++i)
    if (pos[i] > ring.entry(after, i)) return true;
  return false;
}

void extend(const ReplayRing& ring, Position& pos) {
  for (size_t i = pos.size(); i < ring.origin().size(); ++i) pos.push_back(ring.origin()[i]);
}

ClientCursor liveCursor(const ReplayRing& ring) { return ClientCursor{ring.end(), ring.head(), false}; }

ClientCursor resumeCursor(const ReplayRing& ring, Position pos) {
  ClientCursor c;
  c.seq = ring.firstDeliverable(pos);
  c.ahead = true;  // until an event's `after` covers POS (at once when this pod made it)
  c.pos = std::move(pos);
  return c;
}

bool lagging(LagWatch& w, uint64_t behind, uint64_t clientBuffer, int stallTicks) {
  const bool gaining = behind < w.lastBehind;
  w.lastBehind = behind;
  if (behind <= clientBuffer || gaining) {
    w.stalled = 0;
    return false;
  }
  return ++w.stalled >= stallTicks;
}

}  // namespace ew::runtime
