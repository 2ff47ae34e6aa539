#include "core/cloud_event.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace ew::runtime;
using nlohmann::json;

namespace {
Message msg(std::string value) {
  Message m;
  m.tp = {"orders", 2};
  m.offset = 42;
  m.value = std::move(value);
  return m;
}
EnvelopeOptions opts(bool require = false) { return {1024, require, "svc", "sub"}; }
}  // namespace

TEST_CASE("a structured CloudEvent passes through with topic and pubsubname added") {
  auto e = buildEnvelope(msg(R"({"specversion":"1.0","id":"e1","source":"s","type":"t","data":{"n":1}})"), opts(true));
  REQUIRE(e.ok());
  CHECK(e->id == "e1");
  auto j = json::parse(e->body);
  CHECK(j["data"]["n"] == 1);
  CHECK(j["topic"] == "orders");
  CHECK(j["pubsubname"] == "sub");
}

TEST_CASE("raw values are wrapped the way Dapr wraps them") {
  auto js = buildEnvelope(msg(R"({"a":1})"), opts());
  REQUIRE(js.ok());
  auto j = json::parse(js->body);
  CHECK(j["specversion"] == "1.0");
  CHECK(j["type"] == "com.dapr.event.sent");
  CHECK(j["id"] == "orders-2-42");
  CHECK(j["datacontenttype"] == "application/json");
  CHECK(j["data"]["a"] == 1);

  auto text = buildEnvelope(msg("hello"), opts());
  REQUIRE(text.ok());
  CHECK(json::parse(text->body)["data"] == "hello");

  auto bin = buildEnvelope(msg(std::string("\xff\x00\x01", 3)), opts());
  REQUIRE(bin.ok());
  CHECK(json::parse(bin->body)["data_base64"] == "/wAB");
}

TEST_CASE("malformed values are rejected with a reason") {
  using Catch::Matchers::StartsWith;
  CHECK_THAT(buildEnvelope(msg(std::string(1025, 'x')), opts()).error().message, StartsWith("oversized"));
  CHECK_THAT(buildEnvelope(msg(""), opts(true)).error().message, StartsWith("not a CloudEvent: empty"));
  CHECK_THAT(buildEnvelope(msg("\xff\xfe"), opts(true)).error().message,
             StartsWith("not a CloudEvent: value is not JSON"));
  CHECK_THAT(buildEnvelope(msg("[1,2]"), opts(true)).error().message,
             StartsWith("not a CloudEvent: JSON value is not an object"));
  CHECK_THAT(buildEnvelope(msg(R"({"specversion":"1.0","source":"s","type":"t"})"), opts(true)).error().message,
             StartsWith("not a CloudEvent: attribute \"id\""));
  // Without requireCloudEvent, a CloudEvent-looking value missing an id is still malformed.
  CHECK_FALSE(buildEnvelope(msg(R"({"specversion":"1.0","source":"s","type":"t"})"), opts()).ok());
}

TEST_CASE("utf-8 validation and base64") {
  CHECK(isValidUtf8("h\xc3\xa9llo"));
  CHECK_FALSE(isValidUtf8("\xc3"));
  CHECK_FALSE(isValidUtf8("\xed\xa0\x80"));  // surrogate
  CHECK(base64Encode("") == "");
  CHECK(base64Encode("f") == "Zg==");
  CHECK(base64Encode("fo") == "Zm8=");
  CHECK(base64Encode("foo") == "Zm9v");
}

TEST_CASE("base64 decoding round-trips and rejects what is not base64") {
  for (const std::string& s :
       {std::string(), std::string("f"), std::string("fo"), std::string("foo"), std::string("\xff\x00\x01\x80", 4)}) {
    auto d = base64Decode(base64Encode(s));
    REQUIRE(d.ok());
    CHECK(*d == s);
  }
  CHECK(*base64Decode("Zm8") == "fo");  // padding left out
  CHECK_THAT(base64Decode("Zm9v!").error().message, Catch::Matchers::Contains("unexpected character at position 4"));
  CHECK_THAT(base64Decode("Z").error().message, Catch::Matchers::Contains("truncated"));
  CHECK_FALSE(base64Decode("Zm 9v").ok());
  CHECK_FALSE(base64Decode("Zg=").ok());
}

TEST_CASE("CloudEvent data: data_base64 decoded, string data as is, JSON data as JSON text") {
  CHECK(*cloudEventData(json::parse(R"({"data_base64":"eyJuIjoxfQ=="})")) == R"({"n":1})");
  CHECK(*cloudEventData(json::parse(R"({"data":"plain text"})")) == "plain text");
  CHECK(*cloudEventData(json::parse(R"({"data":{"n":1}})")) == R"({"n":1})");
  CHECK(*cloudEventData(json::parse(R"({"data":null})")) == "");
  CHECK(*cloudEventData(json::parse(R"({})")) == "");
  CHECK_THAT(cloudEventData(json::parse(R"({"data":1,"data_base64":"AA=="})")).error().message,
             Catch::Matchers::Contains("both data and data_base64"));
  CHECK_THAT(cloudEventData(json::parse(R"({"data_base64":7})")).error().message,
             Catch::Matchers::Contains("not a string"));
  CHECK_THAT(cloudEventData(json::parse(R"({"data_base64":"**"})")).error().message,
             Catch::Matchers::Contains("invalid base64"));
}

TEST_CASE("CloudEvent validation names what is missing") {
  const json ok = json::parse(R"({"specversion":"1.0","id":"e","source":"s","type":"t","data_base64":"AA=="})");
  CHECK(validateCloudEvent(ok).ok());
  for (const char* attr : {"id", "source", "specversion", "type"}) {
    json bad = ok;
    bad[attr] = "";
    CHECK_THAT(validateCloudEvent(bad).error().message, Catch::Matchers::Contains(std::string("\"") + attr + "\""));
  }
  CHECK_FALSE(validateCloudEvent(json::array()).ok());
  json both = ok;
  both["data"] = 1;
  CHECK_THAT(validateCloudEvent(both).error().message, Catch::Matchers::Contains("both data and data_base64"));
}
