// The worker runtime binary against the real broker: per-key order under
// load, poison events, retries then dead letters, crash and graceful restarts,
// and group membership changes. A ledger HTTP handler records every event.
#include <signal.h>

#include <catch2/catch.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "kube_helpers.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using ew::testing::eventually;
using ew::testing::uniqueName;

namespace {

ConfigSpec spec(const std::string& topic, const Ledger& ledger) {
  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.ledgerPort = ledger.port();
  // A killed member's partitions move after the session timeout: keep it short.
  s.properties = "{session.timeout.ms: \"6000\", heartbeat.interval.ms: \"1000\"}";
  return s;
}

void produceKeyed(Kafka& kafka, const std::string& topic, int events, int keys, int firstSeq = 0) {
  for (int i = firstSeq; i < firstSeq + events; ++i) {
    const std::string key = "k" + std::to_string(i % keys);
    kafka.produce(topic, key, payload(key, i / keys));
  }
  kafka.flush();
}

}  // namespace

TEST_CASE("per-key order holds under concurrency 32 with 100 keys and 50,000 events") {
  Kafka kafka;
  const std::string topic = uniqueName("order");
  kafka.createTopic(topic, 4);
  constexpr int kEvents = 50000, kKeys = 100;
  produceKeyed(kafka, topic, kEvents, kKeys);

  Ledger ledger;
  ConfigSpec s = spec(topic, ledger);
  s.concurrency = 32;
  RuntimeProcess rt("order", s);
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kEvents; }, 100s);
  INFO(rt.log());
  REQUIRE(all);

  std::map<std::string, std::vector<int64_t>> seqs;
  for (const auto& e : ledger.entries()) seqs[e.key].push_back(e.seq);
  REQUIRE(seqs.size() == kKeys);
  for (const auto& [key, list] : seqs) {
    INFO("key " << key);
    REQUIRE(list.size() == kEvents / kKeys);
    for (size_t i = 0; i < list.size(); ++i) REQUIRE(list[i] == static_cast<int64_t>(i));
  }
  CHECK(ledger.overlaps() == 0);
  CHECK(ledger.count() == kEvents);  // nothing handled twice

  // Everything is committed (periodic commit), and the metrics say so.
  REQUIRE(ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 4) == kEvents; }, 20s));
  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  CHECK(metrics.find("worker_jobs_total{status=\"success\",subscription=\"sub\",worker=\"rt\"} 50000") !=
        std::string::npos);
  CHECK(httpGet(rt.opsPort(), "/readyz").find("200") != std::string::npos);
  CHECK(httpGet(rt.opsPort(), "/status").find("\"jobsProcessed\":50000") != std::string::npos);

  rt.signal(SIGTERM);
  auto status = rt.wait(15s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("poison events go to the dead-letter topic with reasons and the rest are handled") {
  Kafka kafka;
  const std::string topic = uniqueName("poison"), dlq = topic + ".dlq";
  const std::map<std::string, std::string> big{{"max.message.bytes", "5242880"}};
  kafka.createTopic(topic, 2, big);
  kafka.createTopic(dlq, 1, big);
  Ledger ledger;
  ConfigSpec s = spec(topic, ledger);
  s.deadLetterTopic = dlq;
  s.requireCloudEvent = true;
  s.properties = "{message.max.bytes: \"5242880\", session.timeout.ms: \"6000\"}";
  RuntimeProcess rt("poison", s);

  constexpr int kGood = 300;
  const std::vector<std::pair<std::string, std::string>> poison = {
      {"binary", std::string("\x00\xff\xfe\x01garbage\x80", 12)},
      {"empty", ""},
      {"huge", std::string(2 * 1024 * 1024, 'x')},
      {"array", "[1,2,3]"},
      {"noid", R"({"specversion":"1.0","source":"t","type":"t","data":{"key":"x","seq":0}})"},
  };
  for (int i = 0; i < kGood; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    if (i % 60 == 30) {
      const auto& [pkey, value] = poison[static_cast<size_t>(i / 60)];
      kafka.produce(topic, key, value);
    }
    nlohmann::json ce = {{"specversion", "1.0"},
                         {"id", "good-" + std::to_string(i)},
                         {"source", "test"},
                         {"type", "t"},
                         {"data", {{"key", key}, {"seq", i}}}};
    kafka.produce(topic, key, ce.dump());
  }
  kafka.flush();

  const bool handled = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kGood; }, 60s);
  INFO(rt.log());
  REQUIRE(handled);
  auto dead = kafka.readAll(dlq, poison.size(), 30s);
  REQUIRE(dead.size() == poison.size());
  std::map<std::string, std::string> errors;  // by value prefix
  for (const auto& r : dead) {
    CHECK(r.header("ew-reason") == "malformed");
    CHECK(r.header("ew-origin-topic") == topic);
    CHECK_FALSE(r.header("ew-origin-offset").empty());
    for (const auto& [name, value] : poison)
      if (r.value == value) errors[name] = r.header("ew-error");
  }
  REQUIRE(errors.size() == poison.size());
  CHECK_THAT(errors["binary"], Catch::Matchers::StartsWith("not a CloudEvent: value is not JSON"));
  CHECK_THAT(errors["empty"], Catch::Matchers::StartsWith("not a CloudEvent: empty"));
  CHECK_THAT(errors["huge"], Catch::Matchers::StartsWith("oversized"));
  CHECK_THAT(errors["array"], Catch::Matchers::StartsWith("not a CloudEvent: JSON value is not an object"));
  CHECK_THAT(errors["noid"], Catch::Matchers::Contains("\"id\""));
  CHECK(rt.running());
  // Everything, poison included, is committed.
  CHECK(ledger.waitFor(
      [&](const Ledger&) { return kafka.committedTotal(s.group, topic, 2) == kGood + (int64_t)poison.size(); }, 20s));
}

TEST_CASE("a key whose handler fails is retried with backoff, then dead-lettered while other keys are unaffected") {
  Kafka kafka;
  const std::string topic = uniqueName("failing"), dlq = topic + ".dlq";
  kafka.createTopic(topic, 3);
  kafka.createTopic(dlq, 1);
  Ledger ledger;
  ledger.setRespond([](const LedgerEntry& e) { return e.key == "bad" ? 500 : 200; });
  ConfigSpec s = spec(topic, ledger);
  s.deadLetterTopic = dlq;
  s.retry = "{maxAttempts: 4, initialBackoff: 200ms, maxBackoff: 1s}";
  constexpr int kBad = 5, kGood = 500;
  for (int i = 0; i < kBad; ++i) kafka.produce(topic, std::string("bad"), payload("bad", i));
  produceKeyed(kafka, topic, kGood, 20);
  const auto start = std::chrono::steady_clock::now();
  RuntimeProcess rt("failing", s);

  auto dead = kafka.readAll(dlq, kBad, 60s);
  INFO(rt.log());
  REQUIRE(dead.size() == kBad);
  for (size_t i = 0; i < dead.size(); ++i) {
    CHECK(dead[i].header("ew-reason") == "exhausted");
    CHECK(dead[i].header("ew-attempts") == "4");
    CHECK(dead[i].header("ew-error") == "HTTP 500");
    CHECK(*dead[i].key == "bad");
    CHECK(dead[i].value == payload("bad", static_cast<int64_t>(i)));  // order kept within the key
  }
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= kGood; }, 30s));
  // Each bad event was tried exactly maxAttempts times; the good keys finished
  // long before the bad key's backoffs ran out.
  std::map<int64_t, int> badTries;
  std::chrono::steady_clock::time_point lastGood{}, lastBad{};
  for (const auto& e : ledger.entries()) {
    if (e.key == "bad") {
      ++badTries[e.seq];
      lastBad = std::max(lastBad, e.at);
    } else {
      lastGood = std::max(lastGood, e.at);
    }
  }
  REQUIRE(badTries.size() == kBad);
  for (const auto& [seq, n] : badTries) CHECK(n == 4);
  CHECK(lastGood < lastBad);
  CHECK(lastGood - start < 15s);
  CHECK(ledger.overlaps() == 0);
  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  CHECK(metrics.find("worker_dead_letters_total{reason=\"exhausted\",subscription=\"sub\",worker=\"rt\"} 5") !=
        std::string::npos);
  CHECK(metrics.find("worker_retries_total{subscription=\"sub\",worker=\"rt\"} 15") != std::string::npos);
}

TEST_CASE("kill -9 mid-stream and restart: no event lost") {
  Kafka kafka;
  const std::string topic = uniqueName("crash");
  kafka.createTopic(topic, 4);
  constexpr int kEvents = 20000;
  produceKeyed(kafka, topic, kEvents, 50);
  Ledger ledger;
  ledger.setDelay(200us);
  ConfigSpec s = spec(topic, ledger);
  {
    RuntimeProcess rt("crash1", s);
    REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= kEvents / 4; }, 60s));
    rt.signal(SIGKILL);
    REQUIRE(rt.wait(10s));
  }
  const size_t before = ledger.distinct();
  RuntimeProcess rt2("crash2", s);
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kEvents; }, 90s);
  INFO(rt2.log());
  REQUIRE(all);
  CHECK(before < static_cast<size_t>(kEvents));
  const size_t duplicates = ledger.count() - ledger.distinct();
  std::cout << "kill -9 test: " << kEvents << " events, " << before << " handled before the kill, " << duplicates
            << " handled twice after restart\n";
  CHECK(duplicates <= static_cast<size_t>(kEvents));
}

TEST_CASE("SIGTERM during load: exits within the grace period and nothing done is handled again") {
  Kafka kafka;
  const std::string topic = uniqueName("term");
  kafka.createTopic(topic, 4);
  constexpr int kEvents = 20000;
  produceKeyed(kafka, topic, kEvents, 50);
  Ledger ledger;
  ledger.setDelay(1ms);
  ConfigSpec s = spec(topic, ledger);
  s.gracePeriod = "5s";
  {
    RuntimeProcess rt("term1", s);
    REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= 3000; }, 60s));
    const auto t0 = std::chrono::steady_clock::now();
    rt.signal(SIGTERM);
    auto status = rt.wait(8s);
    INFO(rt.log());
    REQUIRE(status);
    CHECK(std::chrono::steady_clock::now() - t0 < 6s);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
  }
  const size_t before = ledger.count();
  REQUIRE(before < static_cast<size_t>(kEvents));
  RuntimeProcess rt2("term2", s);
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kEvents; }, 90s);
  INFO(rt2.log());
  REQUIRE(all);
  CHECK(ledger.count() == static_cast<size_t>(kEvents));  // no event handled twice
}

TEST_CASE("three runtimes join and leave the group while events flow: no event lost") {
  Kafka kafka;
  const std::string topic = uniqueName("members");
  kafka.createTopic(topic, 6);
  constexpr int kBatches = 6, kPerBatch = 4000;
  Ledger ledger;
  ledger.setDelay(200us);
  ConfigSpec s = spec(topic, ledger);
  s.gracePeriod = "5s";
  auto a = std::make_unique<RuntimeProcess>("member-a", s);
  std::unique_ptr<RuntimeProcess> b, c;
  for (int batch = 0; batch < kBatches; ++batch) {
    produceKeyed(kafka, topic, kPerBatch, 60, batch * kPerBatch);
    std::this_thread::sleep_for(1500ms);
    if (batch == 0) b = std::make_unique<RuntimeProcess>("member-b", s);
    if (batch == 1) c = std::make_unique<RuntimeProcess>("member-c", s);
    if (batch == 3) a->signal(SIGTERM);
    if (batch == 4) b->signal(SIGKILL);
  }
  const int total = kBatches * kPerBatch;
  const bool all = ledger.waitFor([&](const Ledger& l) { return l.distinct() >= static_cast<size_t>(total); }, 90s);
  INFO(c->log());
  REQUIRE(all);
  REQUIRE(a->wait(10s));
  CHECK(c->running());
  std::cout << "membership test: " << total << " events, " << ledger.count() - ledger.distinct()
            << " handled more than once\n";
}

TEST_CASE(
    "a partition that moves to a new member mid-backlog: the gaps below its highest finished offset are "
    "filled first, so the new owner repeats nothing") {
  // Slow keys (100 ms per event) lag behind fast ones on the same
  // partitions, so at the handover every partition has finished work beyond
  // queued slow events. Committing only the done prefix, the new owner would
  // redo every finished fast event past the first queued slow one; filling
  // those gaps first (within the revoke budget) leaves it nothing to redo.
  Kafka kafka;
  const std::string topic = uniqueName("gaps");
  kafka.createTopic(topic, 4);
  Ledger ledger;
  ledger.setRespond([](const LedgerEntry& e) {
    if (e.key.rfind("slow", 0) == 0) std::this_thread::sleep_for(100ms);
    return 200;
  });
  ConfigSpec s = spec(topic, ledger);
  s.concurrency = 16;
  s.commitInterval = "60s";  // only the revoke commits: what it commits is what the new owner skips
  s.gracePeriod = "5s";
  constexpr int kEvents = 1200;
  for (int i = 0; i < kEvents; ++i) {
    const std::string key = (i % 10 < 2 ? "slow" : "fast") + std::to_string(i % 40);
    kafka.produce(topic, key, payload(key, i));
  }
  kafka.flush();
  RuntimeProcess a("gaps-a", s);
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= 600; }, 60s));  // the fast ones run ahead
  RuntimeProcess b("gaps-b", s);
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kEvents; }, 90s);
  INFO(a.log() << b.log());
  REQUIRE(all);
  std::cout << "handover with gaps: " << kEvents << " events, " << ledger.count() - ledger.distinct()
            << " handled more than once\n";
  CHECK(ledger.count() == ledger.distinct());
}

TEST_CASE("partitions revoked while fetching was paused are fetched again when they come back") {
  Kafka kafka;
  const std::string topic = uniqueName("paused");
  kafka.createTopic(topic, 4);
  Ledger ledger;
  ledger.setDelay(10ms);  // two in flight: about 200 events/s, so the backlog pauses fetching
  ConfigSpec s = spec(topic, ledger);
  s.concurrency = 2;
  s.gracePeriod = "5s";
  RuntimeProcess a("paused-a", s);
  produceKeyed(kafka, topic, 2000, 40);
  const auto metric = [](const RuntimeProcess& rt, const std::string& series) {
    return metricValue(httpGet(rt.opsPort(), "/metrics"), series);
  };
  const std::string pauses = "worker_fetch_pauses_total{subscription=\"sub\",worker=\"rt\"}";
  REQUIRE(ledger.waitFor([&](const Ledger&) { return metric(a, pauses) > 0; }, 30s));
  // A second member takes half of the paused partitions, helps drain, and leaves
  // once everything is handled: its partitions go back to the first member,
  // whose fetching is no longer paused.
  auto b = std::make_unique<RuntimeProcess>("paused-b", s);
  const bool drained = ledger.waitFor([](const Ledger& l) { return l.distinct() >= 2000; }, 60s);
  INFO(a.log());
  REQUIRE(drained);
  REQUIRE(a.log().find("revoked") != std::string::npos);  // the rebalance took partitions from the first member
  b->signal(SIGTERM);
  REQUIRE(b->wait(15s));
  b.reset();
  std::this_thread::sleep_for(2s);
  produceKeyed(kafka, topic, 400, 40, 2000);  // on every partition
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= 2400; }, 45s);
  INFO(a.log());
  CHECK(all);
}

TEST_CASE("the handler server closes kept-alive connections every 7th reply: nothing lost, retried or repeated") {
  Kafka kafka;
  const std::string topic = uniqueName("closing");
  kafka.createTopic(topic, 4);
  constexpr int kEvents = 3000, kKeys = 30;
  produceKeyed(kafka, topic, kEvents, kKeys);
  Ledger ledger;
  ledger.setCloseEvery(7, /*announce=*/false);
  ConfigSpec s = spec(topic, ledger);
  RuntimeProcess rt("closing", s);
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kEvents; }, 60s);
  INFO(rt.log());
  REQUIRE(all);
  REQUIRE(ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 4) == kEvents; }, 20s));
  // A request that met a closed connection went again on a new one before the
  // server ever saw it: each event arrived exactly once, in key order.
  CHECK(ledger.count() == kEvents);
  CHECK(ledger.connections() >= kEvents / 7);
  std::map<std::string, std::vector<int64_t>> seqs;
  for (const auto& e : ledger.entries()) seqs[e.key].push_back(e.seq);
  for (const auto& [key, list] : seqs) {
    INFO("key " << key);
    for (size_t i = 0; i < list.size(); ++i) REQUIRE(list[i] == static_cast<int64_t>(i));
  }
  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  CHECK(metricValue(metrics, "worker_errors_total{subscription=\"sub\",worker=\"rt\"}") == 0);
  CHECK(metricValue(metrics, "worker_retries_total{subscription=\"sub\",worker=\"rt\"}") == 0);
}

TEST_CASE("a handler call that stalls past the timeout is retried and no event is lost") {
  Kafka kafka;
  const std::string topic = uniqueName("stall");
  kafka.createTopic(topic, 4);
  constexpr int kEvents = 1000, kKeys = 20;
  produceKeyed(kafka, topic, kEvents, kKeys);
  // The first call for the 8th event of each key stalls for 2 s; the handler timeout is 300 ms.
  std::mutex mu;
  std::map<std::string, int> calls;  // by event id
  std::set<std::string> stalled;
  Ledger ledger;
  ledger.setRespond([&](const LedgerEntry& e) {
    bool stall = false;
    {
      std::lock_guard l(mu);
      stall = calls[e.id]++ == 0 && e.seq == 7;
      if (stall) stalled.insert(e.id);
    }
    if (stall) std::this_thread::sleep_for(2s);
    return 200;
  });
  ConfigSpec s = spec(topic, ledger);
  s.handlerTimeout = "300ms";
  s.retry = "{maxAttempts: 3, initialBackoff: 100ms, maxBackoff: 200ms}";
  const auto start = std::chrono::steady_clock::now();
  RuntimeProcess rt("stall", s);
  REQUIRE(ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 4) == kEvents; }, 60s));
  INFO(rt.log());
  CHECK(std::chrono::steady_clock::now() - start < 30s);
  CHECK(ledger.distinct() == kEvents);
  std::lock_guard l(mu);  // calls counts arrivals (the ledger records a call when it is answered)
  CHECK(calls.size() == kEvents);
  CHECK(stalled.size() == kKeys);
  for (const auto& id : stalled) CHECK(calls[id] >= 2);
  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  CHECK(metricValue(metrics, "worker_retries_total{subscription=\"sub\",worker=\"rt\"}") >=
        static_cast<double>(stalled.size()));
  CHECK(metricValue(metrics, "worker_jobs_total{status=\"success\",subscription=\"sub\",worker=\"rt\"}") == kEvents);
  CHECK(metricValue(metrics, "worker_jobs_total{status=\"dead_letter\",subscription=\"sub\",worker=\"rt\"}") <= 0);
}

TEST_CASE("a backlog far above librdkafka's queued.min.messages is fetched without waiting out its 1 s recheck") {
  // librdkafka 2.0 stops fetching while its queue holds queued.min.messages
  // records and looks again only about once a second; the runtime wakes it
  // when the queue drains (core/fetch_stall.h). A threshold of 500 makes
  // nearly every fetch response pass it.
  Kafka kafka;
  const std::string topic = uniqueName("backlog");
  kafka.createTopic(topic, 4);
  constexpr int kEvents = 40000;
  produceKeyed(kafka, topic, kEvents, 100);

  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.properties = "{queued.min.messages: \"500\", max.partition.fetch.bytes: \"8192\"}";
  RuntimeProcess rt("backlog", s);
  const std::string series = "worker_jobs_total{status=\"success\",subscription=\"sub\",worker=\"rt\"}";
  std::string metrics;
  eventually([&] { return metricValue(metrics = httpGet(rt.opsPort(), "/metrics"), series) >= kEvents; }, 60s);
  INFO(rt.log());
  REQUIRE(metricValue(metrics, series) == kEvents);  // all of them, none twice
  CHECK(metricValue(metrics, "worker_fetch_wakeups_total{worker=\"rt\"}") > 0);
  REQUIRE(eventually([&] { return kafka.committedTotal(s.group, topic, 4) == kEvents; }, 20s));
  rt.signal(SIGTERM);
  REQUIRE(rt.wait(15s));
}
