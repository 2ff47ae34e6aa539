#include "controller/event_recorder.h"

#include <catch2/catch.hpp>

#include "kube/fake_api.h"

using ew::controller::EventRecorder;
using ew::kube::FakeApi;
using ew::kube::Json;
namespace r = ew::kube::resources;
using namespace std::chrono_literals;

namespace {

Json worker() {
  return {{"apiVersion", "eventworker.dev/v1alpha1"},
          {"kind", "EventWorker"},
          {"metadata", {{"name", "customer-worker"}, {"namespace", "shop"}, {"uid", "u1"}}}};
}

}  // namespace

TEST_CASE("events: an Event the API server refuses is counted as failed, and the next one is still sent") {
  FakeApi api;
  EventRecorder events(api);
  api.failNext("create", "events", 403, "Forbidden: events is forbidden");
  events.record(worker(), "Normal", "Created", "first", "2026-12-06T00:00:00Z");
  events.record(worker(), "Normal", "Applied", "second", "2026-12-06T00:00:01Z");
  REQUIRE(events.flush(5s));
  CHECK(events.failed() == 1);
  CHECK(events.dropped() == 0);
  const auto sent = api.objects(r::kEvent);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["reason"] == "Applied");
  CHECK(sent[0]["involvedObject"]["name"] == "customer-worker");
}

TEST_CASE("events: an Event is sent as recorded: involved object, reason, type, message (at most 1 KiB), times") {
  FakeApi api;
  EventRecorder events(api, "eventworker-operator");
  events.record(worker(), "Warning", "InvalidSpec", std::string(1500, 'x'), "2026-12-06T00:00:02Z");
  REQUIRE(events.flush(5s));
  const auto sent = api.objects(r::kEvent);
  REQUIRE(sent.size() == 1);
  const Json& e = sent[0];
  CHECK(e["metadata"]["namespace"] == "shop");
  CHECK(e["metadata"]["name"].get<std::string>().rfind("customer-worker.", 0) == 0);
  CHECK(e["involvedObject"] == Json{{"apiVersion", "eventworker.dev/v1alpha1"},
                                    {"kind", "EventWorker"},
                                    {"name", "customer-worker"},
                                    {"namespace", "shop"},
                                    {"uid", "u1"},
                                    {"resourceVersion", ""}});
  CHECK(e["type"] == "Warning");
  CHECK(e["reason"] == "InvalidSpec");
  CHECK(e["message"] == std::string(1024, 'x'));
  CHECK(e["source"]["component"] == "eventworker-operator");
  CHECK(e["reportingComponent"] == "eventworker-operator");
  CHECK(e["firstTimestamp"] == "2026-12-06T00:00:02Z");
  CHECK(e["lastTimestamp"] == "2026-12-06T00:00:02Z");
  CHECK(e["count"] == 1);
}

TEST_CASE("events: a message cut at 1 KiB inside a UTF-8 character is sent with U+FFFD in its place") {
  FakeApi api;
  EventRecorder events(api);
  events.record(worker(), "Normal", "Created", std::string(1023, 'x') + "\xc3\xa9", "2026-12-06T00:00:03Z");
  REQUIRE(events.flush(5s));
  const auto sent = api.objects(r::kEvent);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0]["message"] == std::string(1023, 'x') + "\xef\xbf\xbd");
}
