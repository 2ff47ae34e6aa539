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
