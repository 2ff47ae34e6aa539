// The dispatcher with a handler and a dead-letter sink in memory: per-key
// order under parallel work, retries that block only their own key, dead
// letters with their reason, and what a revocation commits. No broker:
// records are handed over as the Kafka source hands them.
#include "loops/dispatcher.h"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "loops/fake_handler.h"
#include "loops/test_support.h"

using namespace ew;
using namespace ew::runtime;
using namespace std::chrono_literals;

namespace {

RuntimeConfig config(const std::string& subscriptionExtra = "", int maxAttempts = 3,
                     const std::string& backoff = "initialBackoff: 10ms, maxBackoff: 20ms") {
  return testConfig("  kind: kafka\n  kafka: {brokers: [\"127.0.0.1:9\"], consumerGroup: w}\n",
                    "  concurrency: 8\n  ordering: key\n  retry: {maxAttempts: " + std::to_string(maxAttempts) + ", " +
                        backoff + "}\n" + subscriptionExtra);
}

class FakeDeadLetters : public DeadLetterSink {
 public:
  Status send(const std::string& topic, const Message& original, const Headers& headers) override {
    std::lock_guard l(mu_);
    std::string reason;
    for (const auto& [k, v] : headers)
      if (k == "ew-reason") reason = v;
    sent_.push_back({topic, original.offset, reason});
    return {};
  }
  struct Sent {
    std::string topic;
    int64_t offset;
    std::string reason;
  };
  std::vector<Sent> sent() {
    std::lock_guard l(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;
  std::vector<Sent> sent_;
};

Message record(int partition, int64_t offset, const std::string& key, const std::string& mode = "") {
  Message m;
  m.tp = {"orders", partition};
  m.offset = offset;
  m.key = key;
  m.value = fakeEvent(key, offset * 10 + partition, mode);
  return m;
}

struct Harness {
  std::shared_ptr<FakeHandler> handler = std::make_shared<FakeHandler>();
  FakeDeadLetters deadLetters;
  MetricsRegistry metrics;
  std::unique_ptr<Dispatcher> dispatcher;
  explicit Harness(const RuntimeConfig& c, const TimeSource* time = &systemTime()) {
    DispatcherDeps deps;
    deps.time = time;
    deps.handler = handler;
    deps.deadLetters = &deadLetters;
    deps.metrics = &metrics;
    deps.random = [] { return 0.5; };
    dispatcher = std::make_unique<Dispatcher>(c, std::move(deps));
    dispatcher->start();
  }
  ~Harness() {
    handler->release();
    dispatcher->stop();
  }
  std::map<int, int64_t> committable() {
    std::map<int, int64_t> out;
    for (const auto& p : dispatcher->takeCommittable()) out[p.tp.partition] = p.offset;
    return out;
  }
};

}  // namespace

TEST_CASE("dispatcher: events of one key are handled in offset order while other keys run beside them") {
  Harness h(config());
  h.dispatcher->assign({{"orders", 0}, {"orders", 1}});
  // As Kafka places them: a key always on the same partition.
  std::vector<Message> batch;
  int64_t next[2] = {0, 0};
  for (int i = 0; i < 200; ++i) {
    const int k = i % 7, p = k % 2;
    batch.push_back(record(p, next[p]++, "k" + std::to_string(k)));
  }
  h.dispatcher->submit(std::move(batch));
  REQUIRE(h.dispatcher->drain(Dispatcher::Clock::now() + 10s));
  const auto done = h.handler->done();
  REQUIRE(done.size() == 200);
  std::map<std::string, int64_t> last;
  for (const auto& c : done) {
    auto it = last.find(c.key);
    if (it != last.end()) CHECK(it->second < c.seq);
    last[c.key] = c.seq;
  }
  CHECK(h.handler->peak() > 1);
  CHECK(h.handler->peak() <= 8);
  const auto points = h.committable();
  CHECK(points.at(0) == next[0]);
  CHECK(points.at(1) == next[1]);
}

TEST_CASE("dispatcher: a retried event holds back its key only, and is handled once it succeeds") {
  // a's first event is retried until b's last is handled: if b waited
  // behind a, a would use up its attempts and be given up.
  Harness h(config("", 200));
  h.dispatcher->assign({{"orders", 0}});
  std::vector<Message> batch = {record(0, 0, "a", "retry-until:30"), record(0, 1, "a"), record(0, 2, "b"),
                                record(0, 3, "b")};
  h.dispatcher->submit(std::move(batch));
  REQUIRE(h.dispatcher->drain(Dispatcher::Clock::now() + 10s));
  const auto done = h.handler->done();
  REQUIRE(done.size() == 4);
  CHECK(h.handler->attempts(0) >= 2);
  // a's second event waited for its first; b did not wait for a.
  std::vector<int64_t> order;
  for (const auto& c : done) order.push_back(c.seq);
  const auto pos = [&](int64_t seq) { return std::find(order.begin(), order.end(), seq) - order.begin(); };
  CHECK(pos(0) < pos(10));
  CHECK(pos(20) < pos(0));
  CHECK(pos(30) < pos(0));
  CHECK(h.committable().at(0) == 4);
  CHECK(h.deadLetters.sent().empty());
}

TEST_CASE(
    "dispatcher: refused and exhausted events go to the dead-letter topic with their reason, and are "
    "committed past") {
  Harness h(config("  deadLetterTopic: orders.dlq\n"));
  h.dispatcher->assign({{"orders", 0}});
  h.dispatcher->submit({record(0, 0, "a", "reject"), record(0, 1, "b", "retry:9"), record(0, 2, "c")});
  REQUIRE(h.dispatcher->drain(Dispatcher::Clock::now() + 10s));
  auto sent = h.deadLetters.sent();
  REQUIRE(sent.size() == 2);
  std::sort(sent.begin(), sent.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
  CHECK(sent[0].topic == "orders.dlq");
  CHECK(sent[0].offset == 0);
  CHECK(sent[0].reason == "rejected");
  CHECK(sent[1].offset == 1);
  CHECK(sent[1].reason == "exhausted");
  CHECK(h.handler->attempts(10) == 3);  // retry.maxAttempts
  CHECK(h.committable().at(0) == 3);
}

TEST_CASE("dispatcher: a revocation commits what is done and never past an event still running") {
  Harness h(config());
  h.dispatcher->assign({{"orders", 0}});
  h.dispatcher->submit({record(0, 0, "a"), record(0, 1, "b", "block"), record(0, 2, "c"), record(0, 3, "a")});
  REQUIRE(h.handler->waitBlocked(5s));
  const auto points = h.dispatcher->revoke({{"orders", 0}}, Dispatcher::Clock::now() + 200ms);
  // Offset 1 is still running when the deadline passes: the commit point
  // stays at it, so its next owner handles it (and whatever came after).
  REQUIRE(points.size() == 1);
  CHECK(points[0].offset == 1);
  h.handler->release();
  // Records of a partition no longer assigned are ignored.
  h.dispatcher->submit({record(0, 4, "z")});
  REQUIRE(h.dispatcher->drain(Dispatcher::Clock::now() + 5s));
  for (const auto& c : h.handler->done()) CHECK(c.seq != 40);
}

TEST_CASE("dispatcher: a revocation whose running work finishes in time commits everything done") {
  Harness h(config());
  h.dispatcher->assign({{"orders", 0}});
  h.dispatcher->submit({record(0, 0, "a"), record(0, 1, "b", "block"), record(0, 2, "c")});
  REQUIRE(h.handler->waitBlocked(5s));
  // Offset 2 done beyond the running 1 (queued work beyond the highest done
  // offset would be left to the next owner instead).
  REQUIRE(h.handler->waitDone(20, 5s));
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    h.handler->release();
  });
  const auto points = h.dispatcher->revoke({{"orders", 0}}, Dispatcher::Clock::now() + 5s);
  releaser.join();
  REQUIRE(points.size() == 1);
  CHECK(points[0].offset == 3);
}

TEST_CASE("dispatcher: a retry waits for its back-off on the injected clock, and only its own key waits") {
  ManualTime time;
  // Jitter 0.5 of a one-minute ceiling: the retry is due 30 s after the failure.
  Harness h(config("", 3, "initialBackoff: 1m, maxBackoff: 1m"), &time);
  h.dispatcher->assign({{"orders", 0}});
  h.dispatcher->submit({record(0, 0, "a", "retry:1"), record(0, 1, "b")});
  REQUIRE(h.handler->waitDone(10, 5s));  // b did not wait for a's back-off
  // The back-off starts when the failed attempt is back in the dispatcher.
  for (int i = 0; i < 5000 && h.dispatcher->backingOff() == 0; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(h.dispatcher->backingOff() == 1);
  REQUIRE(h.handler->attempts(0) == 1);
  time.advance(29s);
  std::this_thread::sleep_for(20ms);  // real time for a wrongly woken worker to call the handler
  CHECK(h.handler->attempts(0) == 1);
  time.advance(1s);
  REQUIRE(h.handler->waitDone(0, 5s));
  CHECK(h.handler->attempts(0) == 2);
  // The handler records an event before the dispatcher marks it done: wait
  // for the dispatcher (the manual clock stands still, so only idleness ends it).
  REQUIRE(h.dispatcher->drain(time.now() + 1s));
  CHECK(h.committable().at(0) == 2);
}

TEST_CASE("dispatcher: a revocation waits for running work until the injected clock's deadline") {
  ManualTime time;
  Harness h(config(), &time);
  h.dispatcher->assign({{"orders", 0}});
  h.dispatcher->submit({record(0, 0, "a", "block")});
  REQUIRE(h.handler->waitBlocked(5s));
  std::atomic<bool> returned{false};
  std::vector<CommitPoint> points;
  const MonoTime deadline = time.now() + 10s;  // before the thread: it may start after the advance below
  std::thread revoker([&] {
    points = h.dispatcher->revoke({{"orders", 0}}, deadline);
    returned = true;
  });
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(returned.load());
  time.advance(10s);
  revoker.join();
  CHECK(returned.load());
  CHECK(points.empty());  // offset 0 was still running: nothing to commit
}
