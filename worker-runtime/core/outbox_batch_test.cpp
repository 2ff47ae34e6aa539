#include "core/outbox_batch.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace ew::runtime;

namespace {

OutboxRow row(int64_t id, std::optional<std::string> key) {
  OutboxRow r;
  r.id = id;
  r.topic = "order.events";
  r.key = std::move(key);
  r.payload = R"({"order":)" + std::to_string(id) + "}";
  return r;
}

DeliveryReport delivered() { return {Delivery::Delivered, ""}; }
DeliveryReport transient() { return {Delivery::Transient, "Local: Message timed out"}; }
DeliveryReport refused() { return {Delivery::Refused, "Broker: Message size too large"}; }

}  // namespace

TEST_CASE("a fully acknowledged batch is marked published in id order") {
  const std::vector<OutboxRow> rows{row(1, "a"), row(2, "b"), row(3, "a")};
  const auto s = settleBatch(rows, {{1, delivered()}, {2, delivered()}, {3, delivered()}});
  CHECK(s.published == std::vector<int64_t>{1, 2, 3});
  CHECK(s.refused.empty());
  CHECK(s.held.empty());
}

TEST_CASE("after a transient failure the later rows of that key are held even when acknowledged, other keys flow") {
  const std::vector<OutboxRow> rows{row(1, "a"), row(2, "a"), row(3, "b"), row(4, "a"), row(5, "b")};
  const auto s =
      settleBatch(rows, {{1, delivered()}, {2, transient()}, {3, delivered()}, {4, delivered()}, {5, delivered()}});
  CHECK(s.published == std::vector<int64_t>{1, 3, 5});
  CHECK(s.held == std::vector<int64_t>{2, 4});
}

TEST_CASE("a row refused for good is marked failed with the reason and does not block its key") {
  const std::vector<OutboxRow> rows{row(1, "a"), row(2, "a"), row(3, "a")};
  const auto s = settleBatch(rows, {{1, delivered()}, {2, refused()}, {3, delivered()}});
  CHECK(s.published == std::vector<int64_t>{1, 3});
  REQUIRE(s.refused.size() == 1);
  CHECK(s.refused[0].first == 2);
  CHECK(s.refused[0].second == "Broker: Message size too large");
  CHECK(s.held.empty());
}

TEST_CASE("a refusal behind a held row of its key is held too, so the key is retried from its first unsettled row") {
  const std::vector<OutboxRow> rows{row(1, "a"), row(2, "a")};
  const auto s = settleBatch(rows, {{1, transient()}, {2, refused()}});
  CHECK(s.published.empty());
  CHECK(s.refused.empty());
  CHECK(s.held == std::vector<int64_t>{1, 2});
}

TEST_CASE("a row with no report (the producer gave up waiting) is held") {
  const std::vector<OutboxRow> rows{row(1, "a"), row(2, "b")};
  const auto s = settleBatch(rows, {{2, delivered()}});
  CHECK(s.published == std::vector<int64_t>{2});
  CHECK(s.held == std::vector<int64_t>{1});
}

TEST_CASE("rows without a key are settled on their own") {
  const std::vector<OutboxRow> rows{row(1, std::nullopt), row(2, std::nullopt)};
  const auto s = settleBatch(rows, {{1, transient()}, {2, delivered()}});
  CHECK(s.published == std::vector<int64_t>{2});
  CHECK(s.held == std::vector<int64_t>{1});
}

TEST_CASE("the message is a structured CloudEvent whose id is the row id") {
  OutboxRow r = row(42, "order-7");
  r.eventType = "OrderCreated";
  r.createdAt = "2026-12-06T09:00:00.123Z";
  r.headers = {{"traceparent", "00-abc-def-01"}};
  const auto m = outboxMessage(r, "shop/order-worker/outbox/outbox_events");
  CHECK(m.topic == "order.events");
  CHECK(m.key == std::optional<std::string>("order-7"));
  const auto ce = nlohmann::json::parse(m.value);
  CHECK(ce["id"] == "42");
  CHECK(ce["specversion"] == "1.0");
  CHECK(ce["type"] == "OrderCreated");
  CHECK(ce["source"] == "shop/order-worker/outbox/outbox_events");
  CHECK(ce["time"] == "2026-12-06T09:00:00.123Z");
  CHECK(ce["data"]["order"] == 42);
  CHECK(m.headers.size() == 2);
  CHECK(m.headers[0].first == "traceparent");
  CHECK(m.headers[1] == std::make_pair(std::string("content-type"), std::string("application/cloudevents+json")));
}

TEST_CASE("a payload that is not JSON travels as a string, and a row without a type gets the default type") {
  OutboxRow r = row(7, std::nullopt);
  r.payload = "plain text";
  const auto ce = nlohmann::json::parse(outboxMessage(r, "s").value);
  CHECK(ce["data"] == "plain text");
  CHECK(ce["datacontenttype"] == "text/plain");
  CHECK(ce["type"] == kOutboxDefaultEventType);
  CHECK_FALSE(ce.contains("partitionkey"));
}

TEST_CASE("a JSON payload travels as it is written, whatever its shape, in an envelope that parses") {
  OutboxRow r = row(9, "k");
  r.payload = "[1, {\"a\": \"b\\u00e9\"}, null]";
  const auto m = outboxMessage(r, "s");
  const auto ce = nlohmann::json::parse(m.value);
  CHECK(ce["data"] == nlohmann::json::parse(r.payload));
  CHECK(ce["datacontenttype"] == "application/json");
  CHECK(ce["partitionkey"] == "k");
  CHECK(m.value.find(r.payload) != std::string::npos);
}

TEST_CASE("the CloudEvent is written with its keys in order and strings escaped, json payloads spliced as they are") {
  OutboxRow r = row(7, "k\"1");
  r.eventType = "Order\nCreated";
  r.createdAt = "2026-12-06T09:00:00.000001Z";
  r.payload = R"({"a": [1, 2]})";
  r.payloadIsJson = true;
  CHECK(outboxMessage(r, "shop/w").value ==
        R"({"data":{"a": [1, 2]},"datacontenttype":"application/json","id":"7","partitionkey":"k\"1",)"
        R"("source":"shop/w","specversion":"1.0","time":"2026-12-06T09:00:00.000001Z","type":"Order\nCreated"})");
  r.payload = "not \"json\"";
  r.payloadIsJson = false;
  r.key.reset();
  r.createdAt.clear();
  CHECK(outboxMessage(r, "s").value ==
        R"({"data":"not \"json\"","datacontenttype":"text/plain","id":"7","source":"s","specversion":"1.0",)"
        R"("type":"Order\nCreated"})");
}

TEST_CASE("a timestamptz in PostgreSQL's binary form reads as to_char's RFC 3339 text and as Unix seconds") {
  // SELECT extract(epoch from t - '2000-01-01 UTC') * 1e6 for each t, in a UTC session.
  CHECK(pgTimestampText(0) == "2000-01-01T00:00:00.000000Z");
  CHECK(pgTimestampText(850'035'600'000'123) == "2026-12-08T09:00:00.000123Z");
  CHECK(pgTimestampText(36'719'999'999'999) == "2001-02-28T23:59:59.999999Z");
  CHECK(pgTimestampText(36'720'000'000'000) == "2001-03-01T00:00:00.000000Z");
  CHECK(pgTimestampText(-1) == "1999-12-31T23:59:59.999999Z");
  CHECK(pgTimestampText(-946'684'800'000'000) == "1970-01-01T00:00:00.000000Z");
  CHECK(pgTimestampText(INT64_MAX).empty());
  // Outside years 0-9999, as snprintf writes them.
  CHECK(pgTimestampText(253'402'300'800'000'000 - 946'684'800'000'000) == "10000-01-01T00:00:00.000000Z");
  CHECK(pgTimestampText(-62'167'219'200'000'001 - 946'684'800'000'000) == "-001-12-31T23:59:59.999999Z");
  CHECK(pgTimestampEpoch(-946'684'800'000'000) == 0.0);
  CHECK(pgTimestampEpoch(850'035'600'000'123) == Approx(1'796'720'400.000123).epsilon(1e-15));
  CHECK(pgTimestampEpoch(INT64_MIN) < -1e300);
}

TEST_CASE("strings outside printable ASCII are escaped as JSON wants: UTF-8 kept, invalid bytes replaced") {
  OutboxRow r = row(3, "cl\xc3\xa9\t");
  r.eventType = "bad\xff";
  const auto ce = nlohmann::json::parse(outboxMessage(r, "s").value);
  CHECK(ce["partitionkey"] == "cl\xc3\xa9\t");
  CHECK(ce["type"] == "bad\xef\xbf\xbd");
}
