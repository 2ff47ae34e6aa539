// Redis idempotency (idempotency.kind: redis) with the real binary, the real
// broker and a redis-server of the test's own: an event id produced twice is
// handled once, also across two runtimes sharing the Redis; with Redis
// unreachable every event is still handled, and the failure is counted and
// logged once.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using ew::testing::uniqueName;

namespace {

// A structured CloudEvent whose id is "evt-SEQ", keyed KEY.
std::string cloudEvent(const std::string& key, int64_t seq) {
  return nlohmann::json{{"specversion", "1.0"},
                        {"id", "evt-" + std::to_string(seq)},
                        {"source", "test"},
                        {"type", "t"},
                        {"data", {{"key", key}, {"seq", seq}}}}
      .dump();
}

ConfigSpec redisSpec(const std::string& topic, const Ledger& ledger, const std::string& redisAddress) {
  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.ledgerPort = ledger.port();
  s.idempotency = "{kind: redis, redisAddress: '" + redisAddress + "', ttl: 1h}";
  return s;
}

double metric(const RuntimeProcess& rt, const std::string& status) {
  return metricValue(httpGet(rt.opsPort(), "/metrics"),
                     R"(worker_jobs_total{status=")" + status + R"(",subscription="sub",worker="rt"})");
}

// success + duplicate as /metrics reports them (0 while unreachable).
double finished(const RuntimeProcess& rt) {
  return std::max(0.0, metric(rt, "success")) + std::max(0.0, metric(rt, "duplicate"));
}

}  // namespace

TEST_CASE("redis idempotency: an event id produced twice is handled once") {
  RedisServer redis;
  Kafka kafka;
  const std::string topic = uniqueName("idem");
  kafka.createTopic(topic, 3);
  // Each id twice, under different keys: the copies land on different lanes
  // (often different partitions) and may be in flight at the same moment.
  constexpr int kIds = 400;
  for (int i = 0; i < kIds; ++i) {
    kafka.produce(topic, "a" + std::to_string(i % 10), cloudEvent("a", i));
    kafka.produce(topic, "b" + std::to_string(i % 7), cloudEvent("b", i));
  }
  kafka.flush();
  Ledger ledger;
  ledger.setDelay(2ms);
  const ConfigSpec s = redisSpec(topic, ledger, redis.address());
  RuntimeProcess rt("idem", s);

  const bool all = ledger.waitFor([&](const Ledger&) { return finished(rt) >= 2 * kIds; }, 60s);
  INFO(rt.log());
  REQUIRE(all);
  CHECK(ledger.distinct() == kIds);
  CHECK(ledger.count() == kIds);  // no id handled twice
  CHECK(metric(rt, "success") == kIds);
  CHECK(metric(rt, "duplicate") == kIds);
  CHECK(ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 3) == 2 * kIds; }, 20s));
  rt.signal(SIGTERM);
  CHECK(rt.wait(15s));
}

TEST_CASE("redis idempotency: two runtimes sharing the Redis handle each id once") {
  RedisServer redis;
  Kafka kafka;
  const std::string topic = uniqueName("idem2");
  kafka.createTopic(topic, 4);
  constexpr int kIds = 1000;
  Ledger ledger;
  ledger.setDelay(1ms);
  // Different consumer groups: each runtime is delivered every event.
  const ConfigSpec s1 = redisSpec(topic, ledger, redis.address());
  const ConfigSpec s2 = redisSpec(topic, ledger, redis.address());
  RuntimeProcess a("idem-a", s1), b("idem-b", s2);
  // Produce once both have their partitions, so that both take part (else
  // the first to join can handle every id before the other one starts).
  auto assigned = [](const RuntimeProcess& rt) {
    return httpGet(rt.opsPort(), "/status").find("\"assignedPartitions\":4") != std::string::npos;
  };
  REQUIRE(ledger.waitFor([&](const Ledger&) { return assigned(a) && assigned(b); }, 60s));
  for (int i = 0; i < kIds; ++i) kafka.produce(topic, "k" + std::to_string(i % 20), cloudEvent("k", i));
  kafka.flush();

  const bool all = ledger.waitFor([&](const Ledger&) { return finished(a) + finished(b) >= 2 * kIds; }, 90s);
  INFO(a.log());
  INFO(b.log());
  REQUIRE(all);
  CHECK(ledger.distinct() == kIds);
  CHECK(ledger.count() == kIds);
  CHECK(metric(a, "success") + metric(b, "success") == kIds);
  CHECK(metric(a, "duplicate") + metric(b, "duplicate") == kIds);
  CHECK(metric(a, "success") > 0);  // both took part
  CHECK(metric(b, "success") > 0);
}

TEST_CASE("redis idempotency: Redis unreachable, every event is handled, counted as errors and logged once") {
  Kafka kafka;
  const std::string topic = uniqueName("idem-down");
  kafka.createTopic(topic, 2);
  constexpr int kIds = 300;
  for (int i = 0; i < kIds; ++i) kafka.produce(topic, "k" + std::to_string(i % 5), cloudEvent("k", i));
  kafka.flush();
  Ledger ledger;
  const ConfigSpec s = redisSpec(topic, ledger, "127.0.0.1:" + std::to_string(freePort()));  // nothing listens
  RuntimeProcess rt("idem-down", s);

  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kIds; }, 60s);
  INFO(rt.log());
  REQUIRE(all);
  CHECK(ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 2) == kIds; }, 20s));
  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  CHECK(metricValue(metrics, R"(worker_jobs_total{status="success",subscription="sub",worker="rt"})") == kIds);
  CHECK(metricValue(metrics, R"(worker_errors_total{subscription="sub",worker="rt"})") >= 1);
  CHECK(metricValue(metrics, R"(worker_idempotency_store_errors_total{subscription="sub",worker="rt"})") >= 1);
  const std::string log = rt.log();
  int reports = 0;
  for (size_t at = log.find("idempotency store"); at != std::string::npos; at = log.find("idempotency store", at + 1))
    ++reports;
  CHECK(reports == 1);  // one line per 30 s, not one per event
}
