#include "core/outbox_horizon.h"

#include <algorithm>
#include <charconv>

namespace ew::runtime {
namespace {

bool parseXid(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

bool PgSnapshot::ended(uint64_t xid) const {
  if (xid < xmin) return true;
  if (xid >= xmax) return false;
  return std::find(inProgress.begin(), inProgress.end(), xid) == inProgress.end();
}

std::optional<PgSnapshot> parsePgSnapshot(std::string_view text) {
  const auto a = text.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = text.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  PgSnapshot s;
  if (!parseXid(text.substr(0, a), s.xmin) || !parseXid(text.substr(a + 1, b - a - 1), s.xmax) || s.xmax < s.xmin)
    return std::nullopt;
  std::string_view rest = text.substr(b + 1);
  for (bool more = !rest.empty(); more;) {
    const auto comma = rest.find(',');
    uint64_t xid = 0;
    if (!parseXid(rest.substr(0, comma), xid)) return std::nullopt;
    s.inProgress.push_back(xid);
    more = comma != std::string_view::npos;
    if (more) rest = rest.substr(comma + 1);
  }
  return s;
}

std::optional<ReadFence> parseReadFence(std::string_view snapshot, std::string_view writers) {
  auto snap = parsePgSnapshot(snapshot);
  if (!snap) return std::nullopt;
  ReadFence f{*snap, {}, false};
  // A 32-bit id of a running transaction lies within 2^31 of the snapshot's xmax.
  constexpr uint64_t kEpoch = uint64_t{1} << 32, kHalf = uint64_t{1} << 31;
  auto widen = [&](uint64_t xid32) {
    uint64_t x = (f.snapshot.xmax & ~(kEpoch - 1)) | xid32;
    if (x > f.snapshot.xmax + kHalf && x >= kEpoch) x -= kEpoch;
    if (x + kHalf < f.snapshot.xmax) x += kEpoch;
    return x;
  };
  while (!writers.empty()) {
    const auto end = writers.find(';');
    std::string_view group = writers.substr(0, end);
    writers = end == std::string_view::npos ? std::string_view{} : writers.substr(end + 1);
    if (group == "-") {
      f.writerWithoutTransactionId = true;
      continue;
    }
    for (bool more = true; more;) {
      const auto comma = group.find(',');
      uint64_t xid = 0;
      if (!parseXid(group.substr(0, comma), xid) || xid >= kEpoch) return std::nullopt;
      f.writers.push_back(widen(xid));
      more = comma != std::string_view::npos;
      if (more) group = group.substr(comma + 1);
    }
  }
  return f;
}

int64_t OutboxHorizon::observe(const ReadFence& fence, int64_t maxIdRead) {
  // A candidate proven by this snapshot proves every older one: a writer of
  // an older list still running when the newer list was read is in it.
  auto proven = [&](const Candidate& c) {
    return std::all_of(c.writers.begin(), c.writers.end(), [&](uint64_t x) { return fence.snapshot.ended(x); });
  };
  for (auto it = candidates_.rbegin(); it != candidates_.rend(); ++it) {
    if (!proven(*it)) continue;
    const auto last = it.base();  // one past the newest proven
    for (auto c = candidates_.begin(); c != last; ++c) horizon_ = std::max(horizon_, c->maxId);
    candidates_.erase(candidates_.begin(), last);
    break;
  }
  if (maxIdRead <= horizon_ || fence.writerWithoutTransactionId) return horizon_;
  if (fence.writers.empty()) {
    horizon_ = maxIdRead;
    std::erase_if(candidates_, [&](const Candidate& c) { return c.maxId <= horizon_; });
    return horizon_;
  }
  candidates_.push_back({maxIdRead, fence.writers});
  if (candidates_.size() > kMaxCandidates) candidates_.pop_front();
  return horizon_;
}

}  // namespace ew::runtime
