// The worker runtime as a Dapr app (source.kind: dapr): the real binary, with
// deliveries POSTed over real HTTP the way daprd sends them (single
// CloudEvents, plain JSON, bulk envelopes, Kafka metadata as headers), a
// ledger HTTP handler behind it, and the replies daprd acts on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime_harness.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kCloudEvents = "application/cloudevents+json";

ConfigSpec daprSpec(const Ledger& ledger) {
  ConfigSpec s;
  s.source = "dapr";
  s.topic = "orders";
  s.ledgerPort = ledger.port();
  s.retry = "{maxAttempts: 3, initialBackoff: 100ms, maxBackoff: 400ms}";
  return s;
}

json cloudEventJson(const std::string& id, const std::string& key, int64_t seq) {
  return json::parse(ew::rttest::cloudEvent(id, key, seq));
}

HttpResult deliver(const RuntimeProcess& rt, const json& event, const Headers& metadata = {}) {
  return httpRequest(rt.daprPort(), "POST", "/events", kCloudEvents, event.dump(), metadata);
}

std::string statusOf(const HttpResult& r) {
  const json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("status") ? j["status"].get<std::string>() : "<" + r.body + ">";
}

// The runtime is up: daprd's app health check passes and the ops server answers ready.
bool ready(const RuntimeProcess& rt) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (httpRequest(rt.daprPort(), "GET", "/healthz", "", "", {}, 1s).status == 200 &&
        httpGet(rt.opsPort(), "/readyz").rfind("HTTP/1.1 200", 0) == 0)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

double metric(const RuntimeProcess& rt, const std::string& name, const std::string& labels) {
  return metricValue(httpGet(rt.opsPort(), "/metrics"), name + "{" + labels + "}");
}

}  // namespace

TEST_CASE("dapr: a CloudEvent and a data_base64 CloudEvent and plain JSON are each handled and answered SUCCESS") {
  Ledger ledger;
  RuntimeProcess rt("dapr-single", daprSpec(ledger));
  REQUIRE(ready(rt));

  const HttpResult r1 = deliver(rt, cloudEventJson("e-1", "k", 1), {{"__key", "k"}});
  INFO(rt.log());
  CHECK(r1.status == 200);
  CHECK(json::parse(r1.body) == json{{"status", "SUCCESS"}});

  json b64 = cloudEventJson("e-2", "k", 2);
  b64.erase("data");
  b64["data_base64"] = "eyJrZXkiOiJrIiwic2VxIjoyfQ==";  // {"key":"k","seq":2}
  const HttpResult r2 = deliver(rt, b64);
  CHECK(r2.status == 200);
  CHECK(statusOf(r2) == "SUCCESS");

  // A plain payload with the Kafka record's metadata, as daprd sends rawPayload events.
  const HttpResult r3 = httpRequest(rt.daprPort(), "POST", "/events", "application/json", payload("k", 3),
                                    {{"__key", "k"}, {"__partition", "2"}, {"__offset", "77"}, {"__topic", "orders"}});
  CHECK(r3.status == 200);
  CHECK(statusOf(r3) == "SUCCESS");

  const auto entries = ledger.entries();
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].id == "e-1");
  CHECK(entries[0].route == "/events");
  CHECK(entries[0].key == "k");
  CHECK(entries[0].seq == 1);
  CHECK(entries[1].id == "e-2");          // passed through as daprd would: data_base64 unchanged
  CHECK(entries[2].id == "orders-2-77");  // wrapped like a consumed record, with its record id
  CHECK(entries[2].seq == 3);

  CHECK(metric(rt, "worker_jobs_total", "status=\"success\",subscription=\"sub\",worker=\"rt\"") == 3);
  CHECK(metric(rt, "worker_dapr_replies_total", "status=\"SUCCESS\",subscription=\"sub\",worker=\"rt\"") == 3);
  CHECK(metric(rt, "worker_job_duration_seconds_count", "subscription=\"sub\",worker=\"rt\"") == 3);
}

TEST_CASE("dapr: a failing handler is retried in the runtime with backoff and then the event is answered DROP") {
  Ledger ledger;
  ledger.setRespond([](const LedgerEntry& e) {
    if (e.id == "always-500") return 500;
    if (e.id == "gone-404") return 404;
    return e.attempt < 3 ? 503 : 200;  // "third-time-lucky"
  });
  RuntimeProcess rt("dapr-retry", daprSpec(ledger));
  REQUIRE(ready(rt));

  const HttpResult exhausted = deliver(rt, cloudEventJson("always-500", "a", 1));
  INFO(rt.log());
  CHECK(exhausted.status == 200);
  CHECK(statusOf(exhausted) == "DROP");
  const HttpResult rejected = deliver(rt, cloudEventJson("gone-404", "b", 1));
  CHECK(statusOf(rejected) == "DROP");
  const HttpResult lucky = deliver(rt, cloudEventJson("third-time-lucky", "c", 1));
  CHECK(statusOf(lucky) == "SUCCESS");

  CHECK(ledger.attempts("always-500") == 3);  // maxAttempts, all in the runtime: daprd saw one delivery
  CHECK(ledger.attempts("gone-404") == 1);
  CHECK(ledger.attempts("third-time-lucky") == 3);
  const std::string labels = "subscription=\"sub\",worker=\"rt\"";
  CHECK(metric(rt, "worker_retries_total", labels) == 4);
  CHECK(metric(rt, "worker_dead_letters_total", "reason=\"exhausted\"," + labels) == 1);
  CHECK(metric(rt, "worker_dead_letters_total", "reason=\"rejected\"," + labels) == 1);
  CHECK(metric(rt, "worker_jobs_total", "status=\"dead_letter\"," + labels) == 2);
  CHECK(metric(rt, "worker_jobs_total", "status=\"success\"," + labels) == 1);
  CHECK(metric(rt, "worker_dapr_replies_total", "status=\"DROP\"," + labels) == 2);
  CHECK(rt.log().find("given up after 3 attempt(s) (exhausted): HTTP 500") != std::string::npos);
}

TEST_CASE("dapr: a bulk delivery of 20 entries with mixed outcomes gets one status per entry with keys in order") {
  Ledger ledger;
  // By seq % 5: 0 and 4 succeed, 1 always fails (retries used up), 2 is
  // rejected (404), 3 fails once and then succeeds.
  ledger.setRespond([](const LedgerEntry& e) {
    switch (e.seq % 5) {
      case 1:
        return 500;
      case 2:
        return 404;
      case 3:
        return e.attempt == 1 ? 500 : 200;
      default:
        return 200;
    }
  });
  RuntimeProcess rt("dapr-bulk", daprSpec(ledger));
  REQUIRE(ready(rt));

  constexpr int kEntries = 20;
  json entries = json::array();
  std::map<std::string, std::string> expected;
  for (int i = 0; i < kEntries; ++i) {
    const std::string key = "k" + std::to_string(i % 4);
    json event = cloudEventJson("b-" + std::to_string(i), key, i);
    if (i == kEntries - 1) event.erase("id");  // malformed: dropped without a handler call
    const std::string entryId = "entry-" + std::to_string(i);
    entries.push_back({{"entryId", entryId},
                       {"event", event},
                       {"contentType", kCloudEvents},
                       {"metadata", {{"__key", key}, {"__partition", "0"}, {"__offset", std::to_string(100 + i)}}}});
    expected[entryId] = i == kEntries - 1 ? "DROP" : (i % 5 == 1 || i % 5 == 2) ? "DROP" : "SUCCESS";
  }
  const json envelope = {{"id", "bulk-1"},         {"type", "com.dapr.event.sent.bulk"},     {"topic", "orders"},
                         {"pubsubname", "pubsub"}, {"metadata", {{"pubsubName", "pubsub"}}}, {"entries", entries}};
  const HttpResult r = httpRequest(rt.daprPort(), "POST", "/events", "application/json", envelope.dump());
  INFO(rt.log());
  REQUIRE(r.status == 200);
  const json reply = json::parse(r.body);
  REQUIRE(reply["statuses"].size() == kEntries);
  for (int i = 0; i < kEntries; ++i) {
    const json& s = reply["statuses"][i];
    INFO("entry " << i << ": " << s.dump());
    CHECK(s["entryId"] == "entry-" + std::to_string(i));
    CHECK(s["status"] == expected[s["entryId"].get<std::string>()]);
  }

  // Calls: 4 x 1 (seq%5==0) + 4 x 3 (==1) + 4 x 1 (==2) + 4 x 2 (==3) + 3 x 1 (==4, without the malformed one).
  CHECK(ledger.count() == 31);
  std::map<std::string, int64_t> lastSeq;
  for (const auto& e : ledger.entries()) {
    INFO("key " << e.key << " seq " << e.seq);
    CHECK(e.seq >= lastSeq[e.key]);  // one key's events run one at a time, in entry order (retries included)
    lastSeq[e.key] = e.seq;
  }
  CHECK(ledger.overlaps() == 0);
  const std::string labels = "subscription=\"sub\",worker=\"rt\"";
  CHECK(metric(rt, "worker_jobs_total", "status=\"success\"," + labels) == 11);
  CHECK(metric(rt, "worker_jobs_total", "status=\"dead_letter\"," + labels) == 9);
  CHECK(metric(rt, "worker_dead_letters_total", "reason=\"malformed\"," + labels) == 1);
  CHECK(metric(rt, "worker_dapr_replies_total", "status=\"SUCCESS\"," + labels) == 11);
  CHECK(metric(rt, "worker_dapr_replies_total", "status=\"DROP\"," + labels) == 9);
}

TEST_CASE("dapr: the same event id delivered twice is handled once") {
  Ledger ledger;
  ConfigSpec s = daprSpec(ledger);
  s.idempotency = "{kind: memory}";
  RuntimeProcess rt("dapr-idem", s);
  REQUIRE(ready(rt));

  const HttpResult first = deliver(rt, cloudEventJson("same-id", "k", 1));
  const HttpResult again = deliver(rt, cloudEventJson("same-id", "k", 1));
  INFO(rt.log());
  CHECK(statusOf(first) == "SUCCESS");
  CHECK(statusOf(again) == "SUCCESS");  // a duplicate is done: daprd must not redeliver it

  // Twice within one bulk (one key: one after the other).
  json entries = json::array();
  for (const char* id : {"1", "2"})
    entries.push_back({{"entryId", id}, {"event", cloudEventJson("bulk-id", "k", 2)}, {"metadata", {{"__key", "k"}}}});
  const json envelope = {{"type", "com.dapr.event.sent.bulk"}, {"topic", "orders"}, {"entries", entries}};
  const HttpResult bulk = httpRequest(rt.daprPort(), "POST", "/events", "application/json", envelope.dump());
  CHECK(json::parse(bulk.body) ==
        json::parse(R"({"statuses":[{"entryId":"1","status":"SUCCESS"},{"entryId":"2","status":"SUCCESS"}]})"));

  CHECK(ledger.count() == 2);
  CHECK(ledger.distinct() == 2);
  const std::string labels = "subscription=\"sub\",worker=\"rt\"";
  CHECK(metric(rt, "worker_jobs_total", "status=\"duplicate\"," + labels) == 2);
  CHECK(metric(rt, "worker_jobs_total", "status=\"success\"," + labels) == 2);
}

TEST_CASE("dapr: GET /dapr/subscribe lists the subscriptions when programmatic and is 404 when declarative") {
  Ledger ledger;
  ConfigSpec s = daprSpec(ledger);
  s.deadLetterTopic = "orders.dlq";
  s.daprOptions = "subscribe: programmatic, pubsubName: kafka-pubsub, metadata: {rawPayload: 'true'}";
  {
    RuntimeProcess rt("dapr-programmatic", s);
    REQUIRE(ready(rt));
    const HttpResult r = httpRequest(rt.daprPort(), "GET", "/dapr/subscribe", "", "");
    INFO(rt.log());
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body) == json::parse(R"([{"pubsubname":"kafka-pubsub","topic":"orders","route":"/events",
        "routes":{"default":"/events"},"deadLetterTopic":"orders.dlq","metadata":{"rawPayload":"true"}}])"));
  }
  s.daprOptions = "";
  RuntimeProcess rt("dapr-declarative", s);
  REQUIRE(ready(rt));
  INFO(rt.log());
  CHECK(httpRequest(rt.daprPort(), "GET", "/dapr/subscribe", "", "").status == 404);
  // A route no subscription has is answered 404, which daprd takes as a drop.
  CHECK(httpRequest(rt.daprPort(), "POST", "/other", kCloudEvents, cloudEventJson("x", "k", 1).dump()).status == 404);
  CHECK(metric(rt, "worker_dapr_unrouted_total", "worker=\"rt\"") == 1);
}

TEST_CASE("dapr: SIGTERM stops taking deliveries and lets the one in flight finish and exits 0") {
  Ledger ledger;
  std::atomic<bool> started{false};
  ledger.setRespond([&](const LedgerEntry&) {
    started = true;
    std::this_thread::sleep_for(1500ms);
    return 200;
  });
  ConfigSpec s = daprSpec(ledger);
  s.gracePeriod = "10s";
  RuntimeProcess rt("dapr-drain", s);
  REQUIRE(ready(rt));

  // daprd keeps connections open between deliveries: one stays idle through the shutdown.
  const int idle = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(rt.daprPort()));
  REQUIRE(::connect(idle, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);

  HttpResult inFlight;
  std::thread daprd([&] { inFlight = deliver(rt, cloudEventJson("slow", "k", 1)); });
  const bool handling = ledger.waitFor([&](const Ledger&) { return started.load(); }, 10s);
  if (!handling) daprd.join();
  INFO(rt.log());
  REQUIRE(handling);
  const auto stopAt = std::chrono::steady_clock::now();
  rt.signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  const HttpResult late = deliver(rt, cloudEventJson("late", "k", 2));
  daprd.join();

  CHECK(inFlight.status == 200);
  CHECK(statusOf(inFlight) == "SUCCESS");
  CHECK(late.status != 200);  // refused while draining: daprd delivers it again later
  const auto status = rt.wait(15s);
  ::close(idle);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(std::chrono::steady_clock::now() - stopAt < 5s);  // done when the delivery is, not at the grace period's end
  CHECK(ledger.count() == 1);
  CHECK(rt.log().find("every dapr delivery answered") != std::string::npos);
}

TEST_CASE("dapr: a delivery still running when the grace period ends is answered RETRY") {
  Ledger ledger;
  std::atomic<bool> started{false};
  ledger.setRespond([&](const LedgerEntry&) {
    started = true;
    std::this_thread::sleep_for(4s);
    return 200;
  });
  ConfigSpec s = daprSpec(ledger);
  s.gracePeriod = "1s";
  RuntimeProcess rt("dapr-grace", s);
  REQUIRE(ready(rt));

  HttpResult inFlight;
  std::thread daprd([&] { inFlight = deliver(rt, cloudEventJson("too-slow", "k", 1)); });
  const bool handling = ledger.waitFor([&](const Ledger&) { return started.load(); }, 10s);
  if (handling) rt.signal(SIGTERM);
  daprd.join();
  INFO(rt.log());
  REQUIRE(handling);
  CHECK(inFlight.status == 200);
  CHECK(statusOf(inFlight) == "RETRY");  // daprd redelivers it
  const auto status = rt.wait(10s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}
