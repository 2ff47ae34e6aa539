#pragma once
// takeEvents (streams/replay_ring.h), a template so that the id encoder
// inlines; included by replay_ring.h only.

namespace ew::runtime {

bool aheadOf(const ReplayRing& ring, const Position& pos, const Position& after);

template <typename EncodeId>
TakeOutcome takeEvents(const ReplayRing& ring, ClientCursor& c, size_t max, std::vector<OutgoingEvent>& out,
                       const EncodeId& encodeId) {
  extend(ring, c.pos);  // partitions added since the cursor was made
  if (c.seq < ring.begin()) {
    if (!ring.covers(c.pos)) return TakeOutcome::Lost;
    c.seq = ring.firstDeliverable(c.pos);  // what left the ring was had already
  }
  for (size_t n = 0; n < max && c.seq < ring.end(); ++c.seq) {
    const StreamEventPtr& e = ring.at(c.seq);
    if (e->offset < c.pos[e->part]) continue;  // had it (from another pod, or a catch-up)
    c.pos[e->part] = e->offset + 1;
    OutgoingEvent& o = out.emplace_back(OutgoingEvent{e, {}});
    if (c.ahead) {
      c.ahead = aheadOf(ring, c.pos, e->after);
      if (c.ahead) {
        Position merged = c.pos;
        for (size_t i = 0; i < merged.size(); ++i) merged[i] = std::max(merged[i], ring.entry(e->after, i));
        o.ownId = encodeId(merged);
      }
    }
    ++n;
  }
  return TakeOutcome::Taken;
}

}  // namespace ew::runtime
