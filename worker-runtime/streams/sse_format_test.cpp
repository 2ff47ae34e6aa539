#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "streams/sse_format.h"

using namespace ew::runtime;
using nlohmann::json;

namespace {

Message record(const std::string& value, std::optional<std::string> key = std::nullopt, Headers headers = {}) {
  Message m;
  m.tp = {"order.completed", 2};
  m.offset = 41;
  m.key = std::move(key);
  m.value = value;
  m.headers = std::move(headers);
  return m;
}

json dataOf(const std::string& body) {
  REQUIRE(body.rfind("data: ", 0) == 0);
  REQUIRE(body.size() > 8);
  REQUIRE(body.substr(body.size() - 2) == "\n\n");
  REQUIRE(body.find('\n') == body.size() - 2);  // one line
  return json::parse(body.substr(6, body.size() - 8));
}

const char* kCloudEvent =
    R"({"specversion":"1.0","id":"e-1","source":"shop/order","type":"com.shop.order.completed",)"
    R"("time":"2026-12-06T10:00:00Z","subject":"o-7","data":{"orderId":"o-7","note":"two\nlines"}})";

}  // namespace

TEST_CASE("an event carries exactly the stream's fields, on one data line") {
  StreamConfig s;
  s.name = "orders";
  auto body = eventBody(record(kCloudEvent, "customer-7"), s);
  REQUIRE(body.ok());
  REQUIRE(body->has_value());
  const json d = dataOf(**body);
  CHECK(d == json::parse(R"({"id":"e-1","type":"com.shop.order.completed","source":"shop/order",
                             "time":"2026-12-06T10:00:00Z","data":{"orderId":"o-7","note":"two\nlines"}})"));
  s.fields = {"key", "topic", "partition", "offset", "subject"};
  CHECK(
      dataOf(**eventBody(record(kCloudEvent, "customer-7"), s)) ==
      json{{"key", "customer-7"}, {"topic", "order.completed"}, {"partition", 2}, {"offset", 41}, {"subject", "o-7"}});
}

TEST_CASE("the filter passes records whose type and key are listed, and only those") {
  StreamConfig s;
  s.name = "orders";
  s.filterTypes = {"com.shop.order.completed"};
  CHECK(eventBody(record(kCloudEvent), s)->has_value());
  s.filterTypes = {"com.shop.order.cancelled"};
  CHECK_FALSE(eventBody(record(kCloudEvent), s)->has_value());
  // A plain value: its ce_type header is its type.
  CHECK(eventBody(record("{\"x\":1}", std::nullopt, {{"ce_type", "com.shop.order.cancelled"}}), s)->has_value());
  CHECK_FALSE(eventBody(record("{\"x\":1}"), s)->has_value());
  s.filterTypes.clear();
  s.filterKeys = {"vip-1"};
  CHECK(eventBody(record(kCloudEvent, "vip-1"), s)->has_value());
  CHECK_FALSE(eventBody(record(kCloudEvent, "vip-2"), s)->has_value());
  CHECK_FALSE(eventBody(record(kCloudEvent), s)->has_value());
}

TEST_CASE("a record that cannot be an event is an error, not an event") {
  StreamConfig s;
  s.name = "orders";
  CHECK_FALSE(eventBody(record(""), s).ok());
  s.maxEventBytes = 10;
  CHECK_FALSE(eventBody(record(kCloudEvent), s).ok());
}

TEST_CASE("control events, ids, the retry hint and heartbeats are SSE fields") {
  CHECK(idLine("1:orders:t=0@5") == "id: 1:orders:t=0@5\n");
  CHECK(controlEvent("ew-overflow", R"({"reason":"overflow"})") ==
        "event: ew-overflow\ndata: {\"reason\":\"overflow\"}\n\n");
  CHECK(retryHint(ew::Millis(2000)) == "retry: 2000\n\n");
  CHECK(std::string(kHeartbeat) == ":\n\n");
}
