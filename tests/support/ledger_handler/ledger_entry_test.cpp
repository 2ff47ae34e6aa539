#include "ledger_entry.h"

#include <catch2/catch.hpp>

using namespace ew::testing;

namespace {

const std::string kEvent =
    R"({"specversion":"1.0","id":"orders-2-17","source":"w","type":"com.dapr.event.sent","topic":"orders",)"
    R"("pubsubname":"s","datacontenttype":"application/json","data":{"seq":41,"sku":"a"}})";

}  // namespace

TEST_CASE("a ledger entry names the event, its route, its data.seq and the pod") {
  auto e = ledgerEntry("/events/orders", kEvent, {}, "orders-7d9c-x2");
  REQUIRE(e.ok());
  CHECK(e->eventId == "orders-2-17");
  CHECK(e->json == R"({"id":"orders-2-17","pod":"orders-7d9c-x2","route":"/events/orders","seq":41})");
}

TEST_CASE("a ledger entry carries the Kafka key, partition and offset that the delivery carries") {
  const ew::runtime::Headers headers{{"__key", "k9"}, {"__partition", "3"}, {"__offset", "1200"}};
  auto e = ledgerEntry("/e", kEvent, headers, "");
  REQUIRE(e.ok());
  CHECK(e->json == R"({"id":"orders-2-17","key":"k9","offset":1200,"partition":3,"route":"/e","seq":41})");

  const std::string keyed = R"({"id":"a","partitionkey":"pk","data":"text"})";
  auto k = ledgerEntry("/e", keyed, headers, "");
  REQUIRE(k.ok());
  CHECK(k->json == R"({"id":"a","key":"pk","offset":1200,"partition":3,"route":"/e"})");
}

TEST_CASE("a ledger entry leaves out what the event does not carry") {
  auto e = ledgerEntry("/e", R"({"id":"x","data":[1,2]})", {{"__partition", "p?"}}, "");
  REQUIRE(e.ok());
  CHECK(e->json == R"({"id":"x","partition":"p?","route":"/e"})");
}

TEST_CASE("a body without a string id has no ledger entry") {
  CHECK(ledgerEntry("/e", "not json", {}, "").error().message == "event body: not a JSON object");
  CHECK(ledgerEntry("/e", "[1]", {}, "").error().message == "event body: not a JSON object");
  CHECK(!ledgerEntry("/e", R"({"id":7})", {}, "").ok());
  CHECK(!ledgerEntry("/e", R"({"id":""})", {}, "").ok());
}
