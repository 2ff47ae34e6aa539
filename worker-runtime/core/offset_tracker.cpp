#include "core/offset_tracker.h"

#include <algorithm>
#include <cassert>

namespace ew::runtime {

void OffsetTracker::assign(const TopicPartition& tp) { parts_.try_emplace(tp); }

void OffsetTracker::revoke(const TopicPartition& tp) {
  auto it = parts_.find(tp);
  if (it == parts_.end()) return;
  for (const auto& [offset, done] : it->second.inFlight)
    if (!done) --pendingTotal_;
  parts_.erase(it);
}

void OffsetTracker::track(const TopicPartition& tp, int64_t offset) {
  auto it = parts_.find(tp);
  assert(it != parts_.end());
  Part& p = it->second;
  assert(p.inFlight.empty() || p.inFlight.back().first < offset);
  assert(offset >= p.next);
  p.inFlight.emplace_back(offset, false);
  ++pendingTotal_;
}

bool OffsetTracker::markDone(const TopicPartition& tp, int64_t offset) {
  auto it = parts_.find(tp);
  if (it == parts_.end()) return false;
  Part& p = it->second;
  if (p.inFlight.empty()) return false;
  // Offsets are usually contiguous (no compaction or transaction markers):
  // try the index they would have, then search.
  auto e = p.inFlight.end();
  if (const int64_t guess = offset - p.inFlight.front().first;
      guess >= 0 && guess < static_cast<int64_t>(p.inFlight.size()) && p.inFlight[guess].first == offset)
    e = p.inFlight.begin() + guess;
  else
    e = std::lower_bound(p.inFlight.begin(), p.inFlight.end(), offset,
                         [](const auto& entry, int64_t o) { return entry.first < o; });
  if (e == p.inFlight.end() || e->first != offset || e->second) return false;
  e->second = true;
  --pendingTotal_;
  advance(p);
  return true;
}

void OffsetTracker::advance(Part& p) {
  while (!p.inFlight.empty() && p.inFlight.front().second) {
    p.next = p.inFlight.front().first + 1;
    p.inFlight.pop_front();
  }
}

size_t OffsetTracker::pending(const TopicPartition& tp) const {
  auto it = parts_.find(tp);
  if (it == parts_.end()) return 0;
  return static_cast<size_t>(
      std::count_if(it->second.inFlight.begin(), it->second.inFlight.end(), [](const auto& e) { return !e.second; }));
}

size_t OffsetTracker::pendingTotal() const { return pendingTotal_; }

std::vector<CommitPoint> OffsetTracker::committable() const {
  std::vector<CommitPoint> out;
  for (const auto& [tp, p] : parts_)
    if (p.next >= 0 && p.next != p.committed) out.push_back({tp, p.next});
  return out;
}

std::optional<CommitPoint> OffsetTracker::committable(const TopicPartition& tp) const {
  auto it = parts_.find(tp);
  if (it == parts_.end() || it->second.next < 0) return std::nullopt;
  return CommitPoint{tp, it->second.next};
}

std::optional<int64_t> OffsetTracker::highestDone(const TopicPartition& tp) const {
  auto it = parts_.find(tp);
  if (it == parts_.end()) return std::nullopt;
  const Part& p = it->second;
  for (auto e = p.inFlight.rbegin(); e != p.inFlight.rend(); ++e)
    if (e->second) return e->first;
  if (p.next >= 0) return p.next - 1;
  return std::nullopt;
}

void OffsetTracker::markCommitted(const CommitPoint& point) {
  auto it = parts_.find(point.tp);
  if (it != parts_.end()) it->second.committed = std::max(it->second.committed, point.offset);
}

}  // namespace ew::runtime
