// The Kafka poll loop's consumer contract (worker-runtime/clients/consumer.h)
// on the real broker and on Kafka in memory (clients/memory_kafka.h), with
// the same observable results: what the handler is given, in which order per
// key, and what is committed, through a stop that leaves an event running
// and a restart of the group that picks it up again. The unit tests of the
// sources (loops/event_source_test.cpp) rely on the fake acting like this.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <thread>

#include "clients/kafka_consumer.h"
#include "clients/memory_kafka.h"
#include "loops/event_source.h"
#include "loops/fake_handler.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew;
using namespace ew::runtime;
using namespace std::chrono_literals;

namespace {

constexpr int kPartitions = 2;

// Where the scenario's records go and where its commits are read: the real
// broker or MemoryKafka.
struct Broker {
  std::string bootstrap;  // "" in memory
  ConsumerFactory consumers;
  std::function<void(const std::string& topic)> createTopic;
  std::function<void(const std::string& topic, int32_t partition, const std::string& key, const std::string& value)>
      produce;
  std::function<std::vector<int64_t>(const std::string& group, const std::string& topic)> committed;
};

// What a run of the scenario shows.
struct Observed {
  std::set<int64_t> handled1, handled2;  // seq (offset * 10 + partition) of the events each run finished
  bool drained1 = false, drained2 = false;
  std::vector<int64_t> committed1, committed2;  // per partition, after each run
  bool orderedPerKey = true;
  bool operator==(const Observed&) const = default;
};

std::string describe(const Observed& o) {
  std::string s;
  auto set = [](const std::set<int64_t>& v) {
    std::string out;
    for (auto x : v) out += std::to_string(x) + " ";
    return out;
  };
  s += "handled1 [" + set(o.handled1) + "] handled2 [" + set(o.handled2) + "]";
  s += " drained " + std::to_string(o.drained1) + "/" + std::to_string(o.drained2);
  s += " committed1 " + std::to_string(o.committed1.at(0)) + "," + std::to_string(o.committed1.at(1));
  s += " committed2 " + std::to_string(o.committed2.at(0)) + "," + std::to_string(o.committed2.at(1));
  s += " ordered " + std::to_string(o.orderedPerKey);
  return s;
}

RuntimeConfig config(const std::string& bootstrap, const std::string& group, const std::string& topic) {
  auto c = parseConfig(R"(apiVersion: runtime.eventworker.dev/v1
worker: w
namespace: shop
source:
  kind: kafka
  kafka: {brokers: [")" +
                       (bootstrap.empty() ? std::string("127.0.0.1:9") : bootstrap) + R"("], consumerGroup: )" + group +
                       R"(, commitInterval: 200ms}
handler: {kind: noop}
server: {gracePeriod: 1s}
subscriptions:
- name: orders
  topic: )" + topic + R"(
  route: /events/orders
  concurrency: 4
  ordering: key
  retry: {maxAttempts: 3, initialBackoff: 10ms, maxBackoff: 20ms}
)");
  REQUIRE(c);
  return *c;
}

struct Run {
  bool drained = false;                 // run()'s result
  std::vector<FakeHandler::Call> done;  // the events finished when run() returned
};

// One member of the group from open() until the stop: EventSource and
// Dispatcher on the system clock, FakeHandler behind them. The handler is
// released (RELEASE_FIRST) at once or only after run() returned.
Run runMember(const Broker& broker, const RuntimeConfig& cfg, FakeHandler& handler, bool releaseFirst,
              const std::function<bool()>& until) {
  auto h = std::shared_ptr<FakeHandler>(&handler, [](FakeHandler*) {});
  if (releaseFirst) handler.release();
  MetricsRegistry metrics;
  DispatcherDeps deps;
  deps.handler = h;
  deps.metrics = &metrics;
  deps.random = [] { return 0.5; };
  Dispatcher dispatcher(cfg, std::move(deps));
  EventSource source(cfg, dispatcher, metrics, nullptr, broker.consumers, systemTime());
  REQUIRE(source.open());
  dispatcher.start();
  bool drained = false;
  std::thread loop([&] { drained = source.run(); });
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!until() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  const bool reached = until();
  source.requestStop();
  loop.join();
  Run out{drained, handler.done()};
  handler.release();
  dispatcher.stop();
  REQUIRE(reached);
  return out;
}

std::set<int64_t> seqs(const std::vector<FakeHandler::Call>& calls) {
  std::set<int64_t> out;
  for (const auto& c : calls) out.insert(c.seq);
  return out;
}

bool ordered(const std::vector<FakeHandler::Call>& calls) {
  std::map<std::string, int64_t> last;
  for (const auto& c : calls) {
    auto it = last.find(c.key);
    if (it != last.end() && it->second >= c.seq) return false;
    last[c.key] = c.seq;
  }
  return true;
}

// Run 1: five events on each partition, the third of partition 1 never
// finishing (the fifth has its key, so waits behind it); a stop whose grace
// period ends with it running. Run 2: a new
// member of the group, two more events on partition 0.
Observed scenario(const Broker& broker) {
  const std::string topic = ew::testing::uniqueName("contract");
  const std::string group = ew::testing::uniqueName("contract");
  broker.createTopic(topic);
  const RuntimeConfig cfg = config(broker.bootstrap, group, topic);
  auto produce = [&](int32_t partition, int64_t offset, const std::string& mode = "") {
    const std::string key = std::string(1, char('a' + offset % 2)) + std::to_string(partition);
    broker.produce(topic, partition, key, fakeEvent(key, offset * 10 + partition, mode));
  };
  for (int64_t o = 0; o < 5; ++o) {
    produce(0, o);
    produce(1, o, o == 2 ? "block" : "");
  }
  Observed out;
  FakeHandler first;
  const Run run1 = runMember(broker, cfg, first, false, [&] { return first.done().size() == 8; });
  out.drained1 = run1.drained;
  out.handled1 = seqs(run1.done);
  out.committed1 = broker.committed(group, topic);

  produce(0, 5);
  produce(0, 6);
  FakeHandler second;
  const Run run2 = runMember(broker, cfg, second, true, [&] { return second.done().size() == 5; });
  out.drained2 = run2.drained;
  out.handled2 = seqs(run2.done);
  out.committed2 = broker.committed(group, topic);
  out.orderedPerKey = ordered(run1.done) && ordered(run2.done);
  return out;
}

}  // namespace

TEST_CASE("the in-memory Kafka gives the poll loop what the real broker gives it") {
  rttest::Kafka kafka;
  Broker real{
      kafka.bootstrap(), KafkaConsumer::factory(),
      [&](const std::string& topic) { kafka.createTopic(topic, kPartitions); },
      [&](const std::string& topic, int32_t partition, const std::string& key, const std::string& value) {
        kafka.produce(topic, key, value, partition);
        kafka.flush();
      },
      [&](const std::string& group, const std::string& topic) { return kafka.committed(group, topic, kPartitions); }};
  MemoryKafka memory(systemTime());
  Broker fake{"", memory.consumers(), [&](const std::string& topic) { memory.createTopic(topic, kPartitions); },
              [&](const std::string& topic, int32_t partition, const std::string& key, const std::string& value) {
                memory.produce(topic, partition, key, value);
              },
              [&](const std::string& group, const std::string& topic) {
                std::vector<int64_t> out;
                for (int p = 0; p < kPartitions; ++p) out.push_back(memory.committed(group, {topic, p}).value_or(-1));
                return out;
              }};

  const Observed onBroker = scenario(real);
  const Observed inMemory = scenario(fake);
  INFO("broker: " << describe(onBroker));
  INFO("memory: " << describe(inMemory));
  CHECK(inMemory == onBroker);
  // And both as the contract says: the running event (seq 21) is neither
  // committed past nor lost; the next member starts at it, and repeats
  // nothing that was committed.
  CHECK(onBroker.handled1 == std::set<int64_t>{0, 10, 20, 30, 40, 1, 11, 31});
  CHECK_FALSE(onBroker.drained1);
  CHECK(onBroker.committed1 == std::vector<int64_t>{5, 2});
  CHECK(onBroker.handled2 == std::set<int64_t>{21, 31, 41, 50, 60});
  CHECK(onBroker.drained2);
  CHECK(onBroker.committed2 == std::vector<int64_t>{7, 5});
  CHECK(onBroker.orderedPerKey);
}
