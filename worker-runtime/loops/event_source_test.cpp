// The Kafka poll loop (loops/event_source.h) on Kafka in memory
// (clients/memory_kafka.h) and a manual clock: order per key, what a
// revocation commits, commits after completion only, pause and resume under
// backpressure, and retry timing. No broker, no ports; waits are on
// conditions, and time moves only when a test moves it.
#include "loops/event_source.h"

#include <catch2/catch.hpp>

#include <map>

#include "clients/memory_kafka.h"
#include "loops/fake_handler.h"
#include "loops/test_support.h"

using namespace ew;
using namespace ew::runtime;
using namespace std::chrono_literals;

namespace {

const TopicPartition kP0{"orders", 0}, kP1{"orders", 1};

RuntimeConfig config(int concurrency = 8, const std::string& retry = "initialBackoff: 10ms, maxBackoff: 20ms") {
  return testConfig(
      "  kind: kafka\n  kafka: {brokers: [\"127.0.0.1:9\"], consumerGroup: g, commitInterval: 1s}\n",
      "  concurrency: " + std::to_string(concurrency) + "\n  ordering: key\n  retry: {maxAttempts: 3, " + retry + "}\n",
      "server: {gracePeriod: 10s}\n");
}

// A dispatcher and an event source on MemoryKafka, the source's loop on a
// thread of its own from construction until stop().
struct Rig {
  ManualTime time;
  MemoryKafka kafka{time};
  std::shared_ptr<FakeHandler> handler = std::make_shared<FakeHandler>();
  MetricsRegistry metrics;
  RuntimeConfig cfg;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<EventSource> source;
  std::unique_ptr<SourceLoop> loop;

  explicit Rig(RuntimeConfig c) : cfg(std::move(c)) {
    kafka.createTopic("orders", 2);
    dispatcher = testDispatcher(cfg, handler, metrics, time);
    source = std::make_unique<EventSource>(cfg, *dispatcher, metrics, nullptr, kafka.consumers(), time);
    REQUIRE(source->open());
    dispatcher->start();
    loop = std::make_unique<SourceLoop>(*source);
    REQUIRE(eventually([&] { return source->assignedPartitions() == 2; }));
  }
  ~Rig() { stop(); }

  MemoryConsumer& member() { return *kafka.member("g"); }
  // Waits (real time, bounded) for PRED, re-checked at each change in the
  // memory Kafka (the loop polls at least every 100 ms).
  bool eventually(const std::function<bool()>& pred) { return kafka.waitFor(pred, 10s); }
  // Lets the loop poll N more times (what it does on a clock that stands still).
  void polls(uint64_t n) {
    const uint64_t until = member().polls() + n;
    REQUIRE(eventually([&] { return member().polls() >= until; }));
  }
  // Moves the clock by STEP until PRED holds: a deadline the loop takes from
  // the clock may be read just before or just after a move.
  bool advanceUntil(std::chrono::nanoseconds step, const std::function<bool()>& pred) {
    for (int i = 0; i < 100; ++i) {
      if (pred()) return true;
      time.advance(step);
      kafka.waitFor(pred, 50ms);
    }
    return pred();
  }
  void produce(const TopicPartition& tp, const std::string& key, const std::string& mode = "") {
    const int64_t offset = kafka.endOffset(tp);
    kafka.produce(tp.topic, tp.partition, key, fakeEvent(key, offset * 10 + tp.partition, mode));
  }
  std::optional<int64_t> committed(const TopicPartition& tp) { return kafka.committed("g", tp); }
  // Stops the loop and joins it. What is admitted normally finishes at
  // once; when not (a test failed midway), the clock is moved past the grace
  // period.
  void stop() {
    handler->release();
    source->requestStop();
    if (!loop->finished(5s)) advanceUntil(1s, [&] { return loop->finished(); });
    loop->join();
  }
};

}  // namespace

TEST_CASE("event source: events of one key are handled in offset order across a batch, and a stop commits them all") {
  Rig r(config());
  // As Kafka places them: a key always on the same partition.
  for (int i = 0; i < 300; ++i) {
    const int k = i % 7;
    r.produce(k % 2 ? kP1 : kP0, "k" + std::to_string(k));
  }
  REQUIRE(r.eventually([&] { return r.handler->done().size() == 300; }));
  std::map<std::string, int64_t> last;
  for (const auto& c : r.handler->done()) {
    auto it = last.find(c.key);
    if (it != last.end()) CHECK(it->second < c.seq);
    last[c.key] = c.seq;
  }
  CHECK(r.handler->peak() > 1);
  r.stop();
  CHECK(r.loop->drained());
  CHECK(r.committed(kP0) == r.kafka.endOffset(kP0));
  CHECK(r.committed(kP1) == r.kafka.endOffset(kP1));
}

TEST_CASE("event source: a revocation mid-flight commits what is done and never past an event still running") {
  Rig r(config());
  r.produce(kP0, "a");
  r.produce(kP0, "b", "block");
  r.produce(kP0, "c");
  r.produce(kP0, "a");
  REQUIRE(r.handler->waitBlocked(10s));
  REQUIRE(r.eventually([&] { return r.handler->done().size() == 3; }));
  r.member().revoke({kP0});
  // The revocation waits for the running event until its budget on the clock ends.
  REQUIRE(r.advanceUntil(1s, [&] { return r.member().rebalancesServed(); }));
  CHECK(r.committed(kP0) == 1);
  CHECK(r.member().assignment() == std::set<TopicPartition>{kP1});
  CHECK(r.source->assignedPartitions() == 1);
  r.handler->release();
  // Its next owner (this member again) starts at the event that was running.
  r.member().assign({kP0});
  REQUIRE(r.eventually([&] { return r.handler->done().size() == 7; }));
  CHECK(r.handler->attempts(10) == 2);
  CHECK(r.handler->attempts(0) == 1);
  r.stop();
  CHECK(r.committed(kP0) == 4);
}

TEST_CASE("event source: a lost assignment commits nothing") {
  Rig r(config());
  r.produce(kP0, "a");
  r.produce(kP0, "b");
  REQUIRE(r.eventually([&] { return r.member().stored(kP0) == 2; }));  // what an unassign would commit
  r.member().revoke({kP0}, true);
  REQUIRE(r.eventually([&] { return r.member().rebalancesServed(); }));
  CHECK_FALSE(r.committed(kP0));
  r.stop();
  CHECK_FALSE(r.committed(kP0));
}

TEST_CASE("event source: an offset is committed only after its event finished, by the commit timer on the clock") {
  Rig r(config());
  r.produce(kP0, "a", "block");
  r.produce(kP0, "b");
  r.produce(kP0, "c");
  REQUIRE(r.handler->waitBlocked(10s));
  REQUIRE(r.eventually([&] { return r.handler->done().size() == 2; }));
  // The timer is due, but offset 0 still runs: nothing may be committed.
  r.time.advance(1s);
  r.polls(2);
  CHECK_FALSE(r.member().stored(kP0));
  CHECK_FALSE(r.committed(kP0));
  r.handler->release();
  // Finished: stored at once, committed by the timer's next tick only.
  REQUIRE(r.eventually([&] { return r.member().stored(kP0) == 3; }));
  r.polls(2);
  CHECK_FALSE(r.committed(kP0));
  r.time.advance(1s);
  REQUIRE(r.eventually([&] { return r.committed(kP0) == 3; }));
  CHECK(r.eventually([&] { return r.source->commits() >= 1; }));
}

TEST_CASE("event source: a subscription over its admission budget is paused, and resumed once its work drains") {
  Rig r(config(1));  // one call at a time: a budget of 512 events
  r.produce(kP0, "a", "block");
  for (int i = 1; i < 1000; ++i) r.produce(i % 2 ? kP1 : kP0, "k" + std::to_string(i % 5));
  REQUIRE(r.handler->waitBlocked(10s));
  REQUIRE(r.eventually([&] { return r.member().paused() == std::set<TopicPartition>{kP0, kP1}; }));
  // Paused: nothing more is fetched while the budget is used up.
  const size_t admitted = r.dispatcher->queueSize();
  CHECK(admitted < 1000);
  r.polls(2);
  CHECK(r.dispatcher->queueSize() == admitted);
  r.handler->release();
  REQUIRE(r.eventually([&] { return r.handler->done().size() == 1000; }));
  // Resumed at a poll: the rest of the records may have filled the budget
  // again, and the loop resumes on its next poll after the last one is done.
  CHECK(r.eventually([&] { return r.member().paused().empty(); }));
  r.stop();
  CHECK(r.committed(kP0) == r.kafka.endOffset(kP0));
  CHECK(r.committed(kP1) == r.kafka.endOffset(kP1));
}

TEST_CASE("event source: a retry waits for its back-off on the clock, and no commit passes it meanwhile") {
  // Jitter 0.5 of a one-minute ceiling: the retry is due 30 s after the failure.
  Rig r(config(8, "initialBackoff: 1m, maxBackoff: 1m"));
  r.produce(kP0, "a", "retry:1");
  r.produce(kP0, "b");
  REQUIRE(r.handler->waitDone(10, 10s));
  REQUIRE(r.eventually([&] { return r.dispatcher->backingOff() == 1; }));
  r.time.advance(29s);
  r.polls(2);
  CHECK(r.handler->attempts(0) == 1);
  CHECK(r.committed(kP0).value_or(0) == 0);
  r.time.advance(1s);
  REQUIRE(r.handler->waitDone(0, 10s));
  CHECK(r.handler->attempts(0) == 2);
  REQUIRE(r.eventually([&] { return r.member().stored(kP0) == 2; }));
  r.time.advance(1s);
  REQUIRE(r.eventually([&] { return r.committed(kP0) == 2; }));
}

TEST_CASE("event source: a stop whose grace period ends on the clock leaves a running event uncommitted") {
  Rig r(config());
  r.produce(kP0, "a");
  r.produce(kP0, "b", "block");
  REQUIRE(r.handler->waitBlocked(10s));
  REQUIRE(r.handler->waitDone(0, 10s));
  r.source->requestStop();
  REQUIRE(r.advanceUntil(1s, [&] { return r.loop->finished(); }));
  CHECK_FALSE(r.kafka.member("g"));  // left the group
  r.stop();
  CHECK_FALSE(r.loop->drained());
  CHECK(r.committed(kP0) == 1);
}
