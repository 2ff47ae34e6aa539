#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

#include "streams/replay_ring.h"

using namespace ew::runtime;

namespace {

// A reader's view of two partitions: events are appended with their `after`.
struct Feed {
  explicit Feed(size_t capacity, Position start = {0, 0}) : ring(capacity, start), head(std::move(start)) {}
  void add(uint32_t part, bool matches = true) {
    const int64_t offset = head[part];
    head[part] = offset + 1;
    StreamEventPtr e;
    if (matches) {
      auto ev = std::make_shared<StreamEvent>();
      ev->part = part;
      ev->offset = offset;
      ev->after = head;
      ev->idLine = "id " + std::to_string(head[0]) + "/" + std::to_string(head[1]);
      e = ev;
    }
    REQUIRE(ring.take(part, offset, e));
  }
  // A partition added to a topic, read from ORIGIN.
  void grow(int64_t origin) {
    ring.grow({origin});
    head.push_back(origin);
  }
  ReplayRing ring;
  Position head;
};

std::string encodeId(const Position& p) { return "own " + std::to_string(p[0]) + "/" + std::to_string(p[1]); }

// Takes everything for C (in small writes), as (part, offset) pairs.
std::vector<std::pair<uint32_t, int64_t>> drain(const ReplayRing& ring, ClientCursor& c, TakeOutcome* outcome = nullptr,
                                                std::vector<std::string>* ids = nullptr) {
  std::vector<std::pair<uint32_t, int64_t>> got;
  for (;;) {
    std::vector<OutgoingEvent> out;
    const TakeOutcome o = takeEvents(ring, c, 3, out, encodeId);
    if (outcome) *outcome = o;
    if (o != TakeOutcome::Taken) return got;
    for (const auto& e : out) {
      got.emplace_back(e.event->part, e.event->offset);
      if (ids) ids->push_back(e.ownId.empty() ? e.event->idLine : e.ownId);
    }
    if (out.empty()) return got;
  }
}

}  // namespace

TEST_CASE("a live client gets every event after it joined, in the reader's order") {
  Feed f(100);
  f.add(0);
  ClientCursor c = liveCursor(f.ring);
  f.add(1);
  f.add(0);
  f.add(1, false);  // filtered out: moves the head only
  f.add(1);
  CHECK(drain(f.ring, c) == std::vector<std::pair<uint32_t, int64_t>>{{1, 0}, {0, 1}, {1, 2}});
  CHECK(drain(f.ring, c).empty());
}

TEST_CASE("the ring keeps replayEvents events and its floor rises with what it evicts") {
  Feed f(3);
  for (int i = 0; i < 5; ++i) f.add(static_cast<uint32_t>(i % 2));  // p0: 0,1,2  p1: 0,1
  CHECK(f.ring.begin() == 2);
  CHECK(f.ring.end() == 5);
  CHECK(f.ring.floor() == Position{1, 1});
  CHECK(f.ring.covers({1, 1}));
  CHECK_FALSE(f.ring.covers({0, 1}));
  CHECK_FALSE(f.ring.take(0, 1, nullptr));  // an offset already taken
}

TEST_CASE("resuming from any token this pod sent repeats nothing and skips nothing") {
  Feed f(1000);
  std::mt19937 rng(3);
  std::vector<std::string> ids;
  ClientCursor first = liveCursor(f.ring);
  for (int i = 0; i < 200; ++i) f.add(rng() % 2, rng() % 4 != 0);
  std::vector<std::pair<uint32_t, int64_t>> all = drain(f.ring, first, nullptr, &ids);
  REQUIRE(all.size() > 100);
  // A client that got the first K events reconnects with the K-th id.
  for (size_t k : {size_t{0}, size_t{1}, all.size() / 2, all.size() - 1}) {
    // The id line holds after = "id p0/p1".
    const std::string& id = ids[k];
    const auto slash = id.find('/');
    Position pos{std::stoll(id.substr(3, slash - 3)), std::stoll(id.substr(slash + 1))};
    auto c = resumeCursor(f.ring, pos);
    auto rest = drain(f.ring, c);
    std::vector<std::pair<uint32_t, int64_t>> want(all.begin() + static_cast<std::ptrdiff_t>(k) + 1, all.end());
    CHECK(rest == want);
  }
}

TEST_CASE("a position from another pod (other interleaving, further on one partition) gets each offset once") {
  Feed f(1000);
  for (int i = 0; i < 10; ++i) f.add(0);
  for (int i = 0; i < 10; ++i) f.add(1);
  // The other pod read partition 1 first: its client had p1 up to 10 and p0 up to 3.
  auto c = resumeCursor(f.ring, {3, 10});
  std::vector<std::string> ids;
  auto got = drain(f.ring, c, nullptr, &ids);
  REQUIRE(got.size() == 7);
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == std::pair<uint32_t, int64_t>{0, 3 + static_cast<int64_t>(i)});
  // This pod's `after` of p0@3 says p1 at 0; the client has p1 up to 10, so its ids say so.
  CHECK(ids.front() == "own 4/10");
  CHECK(ids.back() == "own 10/10");
}

TEST_CASE("a client is cut off only when far behind and not gaining on the head for stallTicks ticks") {
  LagWatch w;
  // A burst: 600 behind with a buffer of 50, then gaining every tick.
  for (uint64_t behind : {600, 450, 300, 150, 40}) CHECK_FALSE(lagging(w, behind, 50, 4));
  // Stopped reading: 200 behind, not gaining.
  CHECK_FALSE(lagging(w, 200, 50, 4));
  CHECK_FALSE(lagging(w, 260, 50, 4));
  CHECK_FALSE(lagging(w, 260, 50, 4));
  CHECK(lagging(w, 330, 50, 4));
  // Reading slower than the stream: gaining on none of the ticks.
  LagWatch slow;
  int ticks = 0;
  for (uint64_t behind = 0; !lagging(slow, behind, 50, 4); behind += 20) ++ticks;
  CHECK(ticks == 6);  // 60, 80, 100 fill the window at 120 (the fourth over 50)
  // Within the buffer a client is never cut, gaining or not.
  LagWatch near;
  for (int i = 0; i < 100; ++i) CHECK_FALSE(lagging(near, 50, 50, 4));
}

TEST_CASE("a client whose next events left the ring has lost them, one that had them already has not") {
  Feed f(5);
  auto slow = liveCursor(f.ring);
  for (int i = 0; i < 8; ++i) f.add(0);
  TakeOutcome o;
  drain(f.ring, slow, &o);
  CHECK(o == TakeOutcome::Lost);
  // A client that had p0 up to 6 from elsewhere and sits before begin() loses nothing.
  ClientCursor other{0, {6, 0}, true};
  CHECK(drain(f.ring, other, &o) == std::vector<std::pair<uint32_t, int64_t>>{{0, 6}, {0, 7}});
  CHECK(o == TakeOutcome::Taken);
}

TEST_CASE("a partition added while clients are connected reaches them from its origin, each offset once") {
  Feed f(1000);
  f.add(0);
  ClientCursor live = liveCursor(f.ring);  // made before the partition was added
  const Position early = f.head;           // a token made before: {1, 0}
  f.add(1);
  f.grow(4);  // partition 2 (index 2): its log starts at 4
  CHECK(f.ring.origin() == Position{0, 0, 4});
  f.add(2);
  f.add(0);
  f.add(2);
  CHECK(drain(f.ring, live) == std::vector<std::pair<uint32_t, int64_t>>{{1, 0}, {2, 4}, {0, 1}, {2, 5}});
  CHECK(live.pos == Position{2, 1, 6});
  // The old token lacks partition 2: read as its origin, the ring covers it.
  REQUIRE(f.ring.covers(early));
  auto resumed = resumeCursor(f.ring, early);
  CHECK(drain(f.ring, resumed) == std::vector<std::pair<uint32_t, int64_t>>{{1, 0}, {2, 4}, {0, 1}, {2, 5}});
  // An event's `after` made before the partition was added reads it at its
  // origin: a client ahead of it on partition 2 keeps its own ids.
  auto ahead = resumeCursor(f.ring, {0, 0, 6});
  std::vector<std::string> ids;
  CHECK(drain(f.ring, ahead, nullptr, &ids) == std::vector<std::pair<uint32_t, int64_t>>{{0, 0}, {1, 0}, {0, 1}});
  CHECK(ahead.ahead);
  CHECK(ahead.pos == Position{2, 1, 6});
}

TEST_CASE("once an added partition's first events left the ring, a token without it is no longer covered") {
  Feed f(3);
  const Position early = f.head;  // {0, 0}
  f.grow(0);
  for (int i = 0; i < 4; ++i) f.add(2);
  CHECK(f.ring.floor() == Position{0, 0, 1});
  CHECK_FALSE(f.ring.covers(early));
  CHECK(f.ring.covers({0, 0, 1}));
  auto slow = liveCursor(f.ring);
  slow.seq = 0;  // had nothing of partition 2 and sits before begin()
  slow.pos.resize(2);
  TakeOutcome o;
  drain(f.ring, slow, &o);
  CHECK(o == TakeOutcome::Lost);
}
