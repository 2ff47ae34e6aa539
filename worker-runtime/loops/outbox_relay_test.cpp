#include "loops/outbox_relay.h"

#include <catch2/catch.hpp>

#include <deque>
#include <set>

using namespace ew::runtime;
using ew::Millis;

namespace {

// The table in memory: pending rows, a lock shared between stores (one per
// relay), and faults to inject.
struct Table {
  std::map<int64_t, OutboxRow> pending;
  std::map<int64_t, std::string> failed;
  std::vector<int64_t> publishedOrder;  // as marked
  const void* lockHolder = nullptr;
  bool down = false;
  std::map<uint64_t, std::set<int64_t>> open;  // transactions not committed yet: their rows' ids
  uint64_t nextXid = 100;
  bool invisible(int64_t id) const {
    for (const auto& [xid, ids] : open)
      if (ids.count(id)) return true;
    return false;
  }
};

class FakeStore : public OutboxStore {
 public:
  explicit FakeStore(Table& t) : t_(t) {}
  ~FakeStore() override { disconnect(); }
  ew::Status connect() override {
    if (t_.down) return ew::Error{"connection refused"};
    up_ = true;
    return {};
  }
  ew::Result<bool> tryLock() override {
    if (!up_ || t_.down) return ew::Error{"no session"};
    if (!t_.lockHolder) t_.lockHolder = this;
    return t_.lockHolder == this;
  }
  // Rows of transactions still open (t_.open) are not visible; while any is
  // open, a read's fence names a writer.
  ew::Status startRead(int limit, std::optional<int64_t> after) override {
    if (!up_ || t_.down) return ew::Error{"no session"};
    REQUIRE_FALSE(reading_);
    reading_ = std::make_pair(limit, after);
    return {};
  }
  // The read as the table is when it is finished (a later snapshot proves no less).
  ew::Result<OutboxRead> finishRead() override {
    REQUIRE(reading_);
    const auto [limit, after] = *reading_;
    reading_.reset();
    if (!up_ || t_.down) return ew::Error{"no session"};
    OutboxRead out;
    out.fence.snapshot = {t_.nextXid, t_.nextXid, {}};
    for (const auto& [xid, ids] : t_.open) {
      out.fence.writers.push_back(xid);
      out.fence.snapshot.inProgress.push_back(xid);
      out.fence.snapshot.xmin = std::min(out.fence.snapshot.xmin, xid);
    }
    for (const auto& [id, r] : t_.pending)
      if (static_cast<int>(out.rows.size()) < limit && (!after || id > *after) && !t_.invisible(id))
        out.rows.push_back(r);
    return out;
  }
  ew::Status finishSettle() override { return {}; }
  ew::Status startSettle(const BatchSettlement& s) override {
    if (!up_ || t_.down) return ew::Error{"no session"};
    for (auto id : s.published) {
      t_.pending.erase(id);
      t_.publishedOrder.push_back(id);
    }
    for (const auto& [id, why] : s.refused) {
      t_.pending.erase(id);
      t_.failed[id] = why;
    }
    return {};
  }
  ew::Result<OutboxBacklog> backlog() override { return OutboxBacklog{static_cast<int64_t>(t_.pending.size()), 3.5}; }
  ew::Result<bool> waitForNotify(Millis) override { return false; }
  void disconnect() override {
    up_ = false;
    reading_.reset();
    if (t_.lockHolder == this) t_.lockHolder = nullptr;
  }

 private:
  Table& t_;
  bool up_ = false;
  std::optional<std::pair<int, std::optional<int64_t>>> reading_;
};

// Acknowledges every row unless told otherwise for a row id (once). The
// outcome of a row is decided when it is collected.
class FakePublisher : public OutboxPublisher {
 public:
  void produce(const std::vector<OutboxRow>& rows) override {
    for (const auto& r : rows) {
      sent.push_back(r.id);
      inFlight.insert(r.id);
    }
  }
  std::map<int64_t, DeliveryReport> collect(const std::vector<OutboxRow>& rows) override {
    std::map<int64_t, DeliveryReport> out;
    for (const auto& r : rows) {
      REQUIRE(inFlight.erase(r.id) == 1);
      auto it = faults.find(r.id);
      if (it != faults.end()) {
        out[r.id] = it->second;
        faults.erase(it);
      } else {
        out[r.id] = {Delivery::Delivered, ""};
      }
    }
    return out;
  }
  std::map<int64_t, DeliveryReport> faults;
  std::vector<int64_t> sent;
  std::set<int64_t> inFlight;  // produced, not collected
};

// Two batches in flight: the step counts of the tests below are theirs (the
// default depth has its own test).
OutboxRelayOptions options(int batchSize = 10) {
  OutboxRelayOptions o;
  o.pipelineDepth = 2;
  o.worker = "order-worker";
  o.source = "shop/order-worker/outbox/outbox_events";
  o.config.name = "orders";
  o.config.connectionEnv = "DB_URL";
  o.config.batchSize = batchSize;
  o.config.pollInterval = Millis(1000);
  return o;
}

void addRows(Table& t, int64_t from, int64_t to, const std::string& key) {
  for (int64_t id = from; id <= to; ++id) {
    OutboxRow r;
    r.id = id;
    r.topic = "order.events";
    r.key = key;
    r.payload = "{}";
    t.pending[id] = r;
  }
}

// Rows 1..TO, odd ids on key "odd", even ones on "even"; row 3 fails transiently.
void addOddEvenWithThreeFailing(Table& t, FakePublisher& pub, int64_t to) {
  for (int64_t id = 1; id <= to; ++id) addRows(t, id, id, id % 2 ? "odd" : "even");
  pub.faults[3] = {Delivery::Transient, "Local: Message timed out"};
}

double metric(ew::MetricsRegistry& m, const std::string& name) {
  const std::string text = m.render();
  const auto at = text.find("\n" + name + "{");
  REQUIRE(at != std::string::npos);
  const auto end = text.find('\n', at + 1);
  const std::string line = text.substr(at + 1, end - at - 1);
  return std::stod(line.substr(line.rfind(' ') + 1));
}

}  // namespace

TEST_CASE("a relay connects, takes the lock and publishes batches in id order until the table is empty") {
  Table t;
  addRows(t, 1, 25, "k");
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(10), std::make_unique<FakeStore>(t), pub, metrics, time);
  CHECK(relay.step() == Millis(0));  // connect, lock, first batch produced (full: the next is read at once)
  CHECK(relay.state() == RelayState::Active);
  for (int i = 0; i < 3; ++i) CHECK(relay.step() == Millis(0));  // 11-20, 21-25 produced; 1-10, 11-20, 21-25 marked
  CHECK(relay.step() == Millis(1000));                           // empty: wait for a NOTIFY or the poll interval
  CHECK(t.pending.empty());
  std::vector<int64_t> want;
  for (int64_t i = 1; i <= 25; ++i) want.push_back(i);
  CHECK(t.publishedOrder == want);
  CHECK(metric(metrics, "worker_outbox_published_total") == 25);
  CHECK(metric(metrics, "worker_outbox_active") == 1);
  CHECK(metric(metrics, "worker_outbox_pending") == 0);
}

TEST_CASE("a second relay of the same table stands by and takes over when the first one's session ends") {
  Table t;
  addRows(t, 1, 5, "k");
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  auto first = std::make_unique<OutboxRelay>(options(), std::make_unique<FakeStore>(t), pub, metrics, time);
  OutboxRelay standby(options(), std::make_unique<FakeStore>(t), pub, metrics, time);
  first->step();
  CHECK(first->state() == RelayState::Active);
  CHECK(standby.step() == Millis(1000));  // lockRetry
  CHECK(standby.state() == RelayState::Standby);
  addRows(t, 6, 8, "k");
  first.reset();  // the process died: its session (and the lock) with it
  CHECK(standby.step() == Millis(0));
  CHECK(standby.state() == RelayState::Active);
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("a transient failure holds the key from the failed row, backs off exponentially and resumes in order") {
  Table t;
  addRows(t, 1, 4, "a");
  addRows(t, 5, 6, "b");
  t.pending[5].key = "b";
  FakePublisher pub;
  pub.faults[2] = {Delivery::Transient, "Local: Message timed out"};
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(), std::make_unique<FakeStore>(t), pub, metrics, time);
  CHECK(relay.step() == Millis(200));
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 5, 6});  // 3 and 4 were sent, but stay pending behind 2
  pub.faults[2] = {Delivery::Transient, "Local: Message timed out"};
  CHECK(relay.step() == Millis(400));
  CHECK(relay.step() == Millis(0));
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 5, 6, 2, 3, 4});
  CHECK(relay.step() == Millis(1000));
}

TEST_CASE("a row Kafka refuses for good is marked failed with the reason while the rest flows") {
  Table t;
  addRows(t, 1, 3, "a");
  FakePublisher pub;
  pub.faults[2] = {Delivery::Refused, "Broker: Message size too large"};
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(), std::make_unique<FakeStore>(t), pub, metrics, time);
  CHECK(relay.step() == Millis(0));
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 3});
  CHECK(t.failed == std::map<int64_t, std::string>{{2, "Broker: Message size too large"}});
  CHECK(relay.step() == Millis(1000));  // nothing more: the mark is waited for, and counted
  CHECK(metric(metrics, "worker_outbox_failed_total") == 1);
}

TEST_CASE("a database that is down is retried with backoff, capped, and the relay resumes when it is back") {
  Table t;
  t.down = true;
  addRows(t, 1, 2, "a");
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(), std::make_unique<FakeStore>(t), pub, metrics, time);
  std::vector<Millis> waits;
  for (int i = 0; i < 8; ++i) waits.push_back(relay.step());
  CHECK(waits == std::vector<Millis>{Millis(200), Millis(400), Millis(800), Millis(1600), Millis(3200), Millis(6400),
                                     Millis(10000), Millis(10000)});
  CHECK(relay.state() == RelayState::Connecting);
  CHECK_FALSE(relay.connected());
  t.down = false;
  CHECK(relay.step() == Millis(0));
  CHECK(relay.state() == RelayState::Active);
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 2});
}

TEST_CASE("a session lost mid-run drops the lock, so a standby can take the table") {
  Table t;
  addRows(t, 1, 2, "a");
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(), std::make_unique<FakeStore>(t), pub, metrics, time);
  relay.step();
  REQUIRE(t.lockHolder != nullptr);
  t.down = true;
  CHECK(relay.step() == Millis(200));
  CHECK(t.lockHolder == nullptr);
  CHECK(metric(metrics, "worker_outbox_active") == 0);
}

TEST_CASE("the backlog gauges are refreshed at most every backlogInterval while rows flow") {
  Table t;
  addRows(t, 1, 30, "a");
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(10), std::make_unique<FakeStore>(t), pub, metrics, time);
  relay.step();  // takes the lock: counts at once (30 pending), publishes 10
  CHECK(metric(metrics, "worker_outbox_pending") == 30);
  CHECK(metric(metrics, "worker_outbox_lag_seconds") == 3.5);
  relay.step();  // 11-20 produced, 1-10 marked
  CHECK(metric(metrics, "worker_outbox_pending") == 30);
  time.advance(std::chrono::seconds(5));
  relay.step();  // 21-30 produced; counted (between two marks: 11-30 are pending), then 11-20 marked
  CHECK(metric(metrics, "worker_outbox_pending") == 20);
  relay.step();  // 21-30 marked
  relay.step();  // empty
  CHECK(metric(metrics, "worker_outbox_pending") == 0);
}

TEST_CASE("while a full batch awaits its reports the next one is read past it and produced, and marks stay in order") {
  Table t;
  addRows(t, 1, 30, "k");
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(10), std::make_unique<FakeStore>(t), pub, metrics, time);
  relay.step();
  CHECK(pub.inFlight.size() == 10);
  CHECK(t.publishedOrder.empty());
  relay.step();  // 11-20 produced before 1-10 is marked
  CHECK(pub.sent.size() == 20);
  CHECK(t.publishedOrder.size() == 10);
  CHECK(pub.inFlight == std::set<int64_t>{11, 12, 13, 14, 15, 16, 17, 18, 19, 20});
  while (relay.step() == Millis(0)) {}
  std::vector<int64_t> want;
  for (int64_t i = 1; i <= 30; ++i) want.push_back(i);
  CHECK(pub.sent == want);  // each row once: a read passes over the rows in flight
  CHECK(t.publishedOrder == want);
  const std::string text = metrics.render();
  for (const char* phase : {"read", "produce", "wait", "settle"})
    CHECK(text.find("worker_outbox_phase_seconds_count{phase=\"" + std::string(phase)) != std::string::npos);
}

TEST_CASE("a transient failure with a later batch in flight settles both as one: the key waits, the rest flows") {
  Table t;
  FakePublisher pub;
  addOddEvenWithThreeFailing(t, pub, 20);
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(10), std::make_unique<FakeStore>(t), pub, metrics, time);
  CHECK(relay.step() == Millis(0));    // 1-10 produced
  CHECK(relay.step() == Millis(200));  // 11-20 produced; 3 failed: every odd row from 3 on stays pending
  CHECK(pub.inFlight.empty());
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20});
  while (relay.step() == Millis(0)) {}
  CHECK(t.publishedOrder ==
        std::vector<int64_t>{1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 3, 5, 7, 9, 11, 13, 15, 17, 19});
  // The odd key went out again from its first unsettled row, in id order.
  std::vector<int64_t> resent(pub.sent.begin() + 20, pub.sent.end());
  CHECK(resent == std::vector<int64_t>{3, 5, 7, 9, 11, 13, 15, 17, 19});
}

TEST_CASE("at the default depth four batches are in flight before the first settles, and a failure settles all four") {
  Table t;
  FakePublisher pub;
  addOddEvenWithThreeFailing(t, pub, 50);
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelayOptions o = options(10);
  o.pipelineDepth = OutboxRelayOptions{}.pipelineDepth;
  REQUIRE(o.pipelineDepth == 4);
  OutboxRelay relay(o, std::make_unique<FakeStore>(t), pub, metrics, time);
  for (int i = 0; i < 3; ++i) CHECK(relay.step() == Millis(0));  // 1-10, 11-20, 21-30 produced
  CHECK(pub.inFlight.size() == 30);
  CHECK(t.publishedOrder.empty());
  CHECK(relay.step() == Millis(200));  // 31-40 produced; 3 failed: every odd row from 3 on stays pending
  CHECK(pub.inFlight.empty());
  std::vector<int64_t> want{1, 2};
  for (int64_t id = 4; id <= 40; id += 2) want.push_back(id);
  CHECK(t.publishedOrder == want);
  while (relay.step() == Millis(0)) {}
  CHECK(t.pending.empty());
  // The odd key went out again from its first unsettled row, then the rest, in id order.
  std::vector<int64_t> resent(pub.sent.begin() + 40, pub.sent.end()), rest;
  for (int64_t id = 3; id <= 39; id += 2) rest.push_back(id);
  for (int64_t id = 41; id <= 50; ++id) rest.push_back(id);
  CHECK(resent == rest);
  want.insert(want.end(), rest.begin(), rest.end());
  CHECK(t.publishedOrder == want);
}

TEST_CASE("a relay that dies with two batches in flight has marked neither: the standby publishes them again") {
  Table t;
  addRows(t, 1, 30, "k");
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  auto first = std::make_unique<OutboxRelay>(options(10), std::make_unique<FakeStore>(t), pub, metrics, time);
  first->step();
  first->step();  // 1-10 marked, 11-20 in flight
  first->step();  // 21-30 produced, 11-20 marked
  CHECK(t.publishedOrder.size() == 20);
  first.reset();  // killed: 21-30 were produced, never marked
  pub.inFlight.clear();
  FakePublisher pub2;
  OutboxRelay standby(options(10), std::make_unique<FakeStore>(t), pub2, metrics, time);
  while (standby.step() == Millis(0)) {}
  CHECK(pub2.sent == std::vector<int64_t>{21, 22, 23, 24, 25, 26, 27, 28, 29, 30});
  CHECK(t.publishedOrder.size() == 30);
  CHECK(t.pending.empty());
}

TEST_CASE("rows above a lower id still being written wait for it: the relay publishes in id order") {
  // Transaction 100 drew id 2 and has not committed; 1 and 3 are visible.
  Table t;
  addRows(t, 1, 3, "k");
  t.open[100] = {2};
  t.nextXid = 101;
  FakePublisher pub;
  ew::MetricsRegistry metrics;
  ew::ManualTime time;
  OutboxRelay relay(options(10), std::make_unique<FakeStore>(t), pub, metrics, time);
  CHECK(relay.step() == Millis(5));  // horizonRetry: nothing is final above the open transaction's id
  CHECK(relay.step() == Millis(10));
  CHECK(pub.sent.empty());
  CHECK(metric(metrics, "worker_outbox_horizon_waits_total") == 2);
  t.open.clear();  // 100 commits
  t.nextXid = 102;
  while (relay.step() == Millis(0)) {}
  CHECK(pub.sent == std::vector<int64_t>{1, 2, 3});
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 2, 3});
  // Then 4 (open, 101) and 5 (committed) appear: 5 waits, and goes out after 4.
  addRows(t, 4, 5, "k");
  t.open[101] = {4};
  t.nextXid = 103;
  CHECK(relay.step() == Millis(5));
  CHECK(pub.sent.size() == 3);
  t.open.clear();
  t.nextXid = 104;
  while (relay.step() == Millis(0)) {}
  CHECK(t.publishedOrder == std::vector<int64_t>{1, 2, 3, 4, 5});
}
