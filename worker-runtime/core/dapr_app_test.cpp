#include "core/dapr_app.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace ew::runtime;
using ew::Millis;
using nlohmann::json;

namespace {

const char* kCe = "application/cloudevents+json";

std::string cloudEvent(const std::string& id, const json& extra = json::object()) {
  json ce = {{"specversion", "1.0"},
             {"id", id},
             {"source", "orders-api"},
             {"type", "order.completed"},
             {"datacontenttype", "application/json"},
             {"data", {{"n", 1}}}};
  for (const auto& [k, v] : extra.items()) ce[k] = v;
  if (ce.contains("data") && ce["data"].is_null()) ce.erase("data");
  return ce.dump();
}

RuntimeConfig daprConfig(DaprSubscribe subscribe) {
  RuntimeConfig c;
  c.worker = "w";
  c.source.kind = SourceKind::Dapr;
  c.source.dapr = DaprSourceConfig{};
  c.source.dapr->appPort = 5005;
  c.source.dapr->subscribe = subscribe;
  SubscriptionConfig a;
  a.name = "a";
  a.topic = "orders";
  a.route = "/events/orders";
  a.deadLetterTopic = "orders.dlq";
  SubscriptionConfig b;
  b.name = "b";
  b.topic = "payments";
  b.route = "/events/payments";
  c.subscriptions = {a, b};
  return c;
}

}  // namespace

TEST_CASE("a single CloudEvent delivery passes through with key, partition and trace from metadata") {
  const std::string body = cloudEvent("e1");
  const DaprMetadata headers = {
      {"content-type", kCe}, {"__key", "customer-7"},          {"__partition", "3"},          {"__offset", "1200"},
      {"__topic", "orders"}, {"__timestamp", "1700000000000"}, {"traceparent", "00-ab-cd-01"}};
  const DaprRequest r = parseDaprRequest(kCe, body, headers);
  REQUIRE_FALSE(r.bulk);
  REQUIRE(r.events.size() == 1);
  const DaprEvent& e = r.events[0];
  CHECK(e.malformed.empty());
  CHECK(e.value == body);
  CHECK(e.key == std::optional<std::string>("customer-7"));
  CHECK(e.partition == std::optional<int32_t>(3));
  CHECK(e.offset == std::optional<int64_t>(1200));
  CHECK(e.timestampMs == 1700000000000);
  CHECK(e.topic == "orders");
  CHECK(e.headers == Headers{{"traceparent", "00-ab-cd-01"}});
}

TEST_CASE("the CloudEvent's partitionkey orders ahead of the metadata key, and its attributes fill gaps") {
  const std::string body =
      cloudEvent("e1", {{"partitionkey", "pk-1"}, {"topic", "orders"}, {"traceparent", "00-11-22-01"}});
  const DaprRequest r = parseDaprRequest("application/cloudevents+json; charset=utf-8", body, {{"__key", "k"}});
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].key == std::optional<std::string>("pk-1"));
  CHECK(r.events[0].topic == "orders");
  CHECK(r.events[0].headers == Headers{{"traceparent", "00-11-22-01"}});
  CHECK_FALSE(r.events[0].partition);
  CHECK_FALSE(r.events[0].offset);
}

TEST_CASE("empty trace context is not passed on") {
  // daprd publishes "traceparent":"" when nothing was traced; an empty header is not valid W3C trace context.
  const std::string body = cloudEvent("e1", {{"traceparent", ""}, {"tracestate", ""}});
  CHECK(parseDaprRequest(kCe, body, {{"tracestate", ""}}).events[0].headers.empty());
  CHECK(parseDaprRequest(kCe, body, {{"traceparent", "00-ab-cd-01"}}).events[0].headers ==
        Headers{{"traceparent", "00-ab-cd-01"}});
}

TEST_CASE("metadata names match without regard to case, and partitionKey is a key too") {
  const DaprRequest r = parseDaprRequest(kCe, cloudEvent("e1"), {{"PartitionKey", "pk"}, {"__PARTITION", "x1"}});
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].key == std::optional<std::string>("pk"));
  CHECK_FALSE(r.events[0].partition);  // not a number: ignored
}

TEST_CASE("CloudEvents with data_base64 are accepted, and bad ones are malformed with the reason") {
  const std::string b64 = cloudEvent("e2", {{"data", nullptr}, {"data_base64", "eyJuIjoxfQ=="}});
  CHECK(parseDaprRequest(kCe, b64, {}).events[0].malformed.empty());

  struct Case {
    std::string body;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"{not json", "body is not valid JSON"},
      {"[1,2]", "not a CloudEvent: not a JSON object"},
      {cloudEvent("", {}), "attribute \"id\""},
      {cloudEvent("e3", {{"data_base64", "eyJuIjoxfQ=="}}), "both data and data_base64"},
      {cloudEvent("e4", {{"data", nullptr}, {"data_base64", "e$J9"}}), "invalid base64"},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    const DaprRequest r = parseDaprRequest(kCe, c.body, {});
    REQUIRE(r.events.size() == 1);
    CHECK_THAT(r.events[0].malformed, Catch::Matchers::Contains(c.reason));
    CHECK(r.events[0].value == c.body);
  }
}

TEST_CASE("plain application/json and other payloads are events of their own (wrapped later)") {
  const DaprRequest json1 = parseDaprRequest("application/json", R"({"orderId":7})", {{"__key", "k"}});
  REQUIRE(json1.events.size() == 1);
  CHECK_FALSE(json1.bulk);
  CHECK(json1.events[0].malformed.empty());
  CHECK(json1.events[0].value == R"({"orderId":7})");
  CHECK(json1.events[0].key == std::optional<std::string>("k"));

  CHECK(parseDaprRequest("application/json", "{oops", {}).events[0].malformed.find("not valid JSON") !=
        std::string::npos);
  // JSON that says it is a CloudEvent is checked as one.
  CHECK_FALSE(parseDaprRequest("application/json", R"({"specversion":"1.0"})", {}).events[0].malformed.empty());

  const DaprRequest text = parseDaprRequest("text/plain", "hello", {});
  CHECK(text.events[0].malformed.empty());
  CHECK(text.events[0].value == "hello");
  CHECK(parseDaprRequest("", "\x01\x02", {}).events[0].value == "\x01\x02");
}

TEST_CASE("a bulk delivery becomes one event per entry, in order, with entry metadata") {
  const json envelope = {
      {"id", "b1"},
      {"type", "com.dapr.event.sent.bulk"},
      {"topic", "orders"},
      {"pubsubname", "pubsub"},
      {"metadata", {{"pubsubName", "pubsub"}}},
      {"entries",
       {{{"entryId", "1"},
         {"event", json::parse(cloudEvent("e1"))},
         {"contentType", kCe},
         {"metadata", {{"__key", "k1"}, {"__partition", "0"}, {"__offset", "10"}}}},
        {{"entryID", "2"},  // daprd before 1.10 spelled it entryID
         {"event", "aGVsbG8="},
         {"contentType", "text/plain"},
         {"metadata", {{"__key", "k2"}}}},
        {{"entryId", "3"}, {"event", json::parse(R"({"specversion":"1.0","id":""})")}, {"contentType", kCe}},
        {{"entryId", "4"}, {"event", "%%%"}},
        {{"entryId", "5"}, {"event", 42}},
        {{"event", json::parse(cloudEvent("no-id"))}}}}};
  const DaprRequest r = parseDaprRequest("application/json", envelope.dump(), {{"content-type", "application/json"}});
  REQUIRE(r.bulk);
  REQUIRE(r.entryIds == std::vector<std::string>{"1", "2", "3", "4", "5"});  // the entry without an id is skipped
  REQUIRE(r.events.size() == 5);
  CHECK(r.events[0].malformed.empty());
  CHECK(json::parse(r.events[0].value)["id"] == "e1");
  CHECK(r.events[0].key == std::optional<std::string>("k1"));
  CHECK(r.events[0].offset == std::optional<int64_t>(10));
  CHECK(r.events[0].topic == "orders");
  CHECK(r.events[1].malformed.empty());
  CHECK(r.events[1].value == "hello");  // raw payloads arrive base64-encoded
  CHECK(r.events[1].key == std::optional<std::string>("k2"));
  CHECK_THAT(r.events[2].malformed, Catch::Matchers::Contains("attribute \"id\""));
  CHECK_THAT(r.events[3].malformed, Catch::Matchers::Contains("invalid base64"));
  CHECK_THAT(r.events[4].malformed, Catch::Matchers::Contains("neither a CloudEvent"));
}

TEST_CASE("a JSON body is a bulk envelope only with the bulk type and entries") {
  CHECK_FALSE(parseDaprRequest("application/json", R"({"entries":[]})", {}).bulk);
  CHECK_FALSE(parseDaprRequest(kCe, R"({"type":"com.dapr.event.sent.bulk","entries":[]})", {}).bulk);
  const DaprRequest empty =
      parseDaprRequest("application/json", R"({"type":"com.dapr.event.sent.bulk","entries":[]})", {});
  CHECK(empty.bulk);
  CHECK(empty.events.empty());
  const DaprRequest broken =
      parseDaprRequest("application/json", R"({"type":"com.dapr.event.sent.bulk","entries":{}})", {});
  CHECK_FALSE(broken.bulk);
  REQUIRE(broken.events.size() == 1);
  CHECK_THAT(broken.events[0].malformed, Catch::Matchers::Contains("not a list"));
}

TEST_CASE("replies follow Dapr's app contract") {
  CHECK(json::parse(renderDaprReply(DaprStatus::Success)) == json{{"status", "SUCCESS"}});
  CHECK(json::parse(renderDaprReply(DaprStatus::Drop)) == json{{"status", "DROP"}});
  CHECK(json::parse(renderDaprReply(DaprStatus::Retry)) == json{{"status", "RETRY"}});
  const json bulk = json::parse(renderDaprBulkReply({{"1", DaprStatus::Success}, {"2", DaprStatus::Drop}}));
  CHECK(bulk == json::parse(R"({"statuses":[{"entryId":"1","status":"SUCCESS"},{"entryId":"2","status":"DROP"}]})"));
  CHECK(json::parse(renderDaprBulkReply({})) == json::parse(R"({"statuses":[]})"));
}

TEST_CASE("the programmatic subscription document lists every subscription in Dapr's format") {
  RuntimeConfig c = daprConfig(DaprSubscribe::Programmatic);
  const json doc = json::parse(renderDaprSubscriptions(c));
  REQUIRE(doc.is_array());
  REQUIRE(doc.size() == 2);
  CHECK(doc[0] == json::parse(R"({"pubsubname":"pubsub","topic":"orders","route":"/events/orders",
      "routes":{"default":"/events/orders"},"deadLetterTopic":"orders.dlq"})"));
  CHECK(doc[1] == json::parse(R"({"pubsubname":"pubsub","topic":"payments","route":"/events/payments",
      "routes":{"default":"/events/payments"}})"));

  c.source.dapr->pubsubName = "kafka-pubsub";
  c.source.dapr->metadata = {{"rawPayload", "true"}};
  c.source.dapr->bulkSubscribe = {true, 50, Millis(250)};
  const json withBulk = json::parse(renderDaprSubscriptions(c));
  CHECK(withBulk[1]["pubsubname"] == "kafka-pubsub");
  CHECK(withBulk[1]["metadata"] == json{{"rawPayload", "true"}});
  CHECK(withBulk[1]["bulkSubscribe"] ==
        json::parse(R"({"enabled":true,"maxMessagesCount":50,"maxAwaitDurationMs":250})"));
  c.source.dapr->bulkSubscribe = {true, 0, Millis(0)};
  CHECK(json::parse(renderDaprSubscriptions(c))[0]["bulkSubscribe"] == json{{"enabled", true}});
}

TEST_CASE("deliveries find their subscription by route, and by topic when routes are shared") {
  RuntimeConfig c = daprConfig(DaprSubscribe::Declarative);
  CHECK(daprSubscriptionFor(c, "/events/orders", "")->name == "a");
  CHECK(daprSubscriptionFor(c, "/events/orders", "something-else")->name == "a");  // the route decides
  CHECK(daprSubscriptionFor(c, "/events/nope", "orders") == nullptr);
  c.subscriptions[1].route = "/events/orders";
  CHECK(daprSubscriptionFor(c, "/events/orders", "payments")->name == "b");
  CHECK(daprSubscriptionFor(c, "/events/orders", "orders")->name == "a");
  CHECK(daprSubscriptionFor(c, "/events/orders", "") == nullptr);  // ambiguous
}
