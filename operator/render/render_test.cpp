#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "api/load.h"
#include "api/test_objects.h"
#include "render/names.h"
#include "render/render.h"

using namespace ew;
using api::Json;
using api::testing::minimalEventWorker;
using api::testing::patched;

namespace {

namespace fs = std::filesystem;

api::EventWorker load(const Json& object) {
  auto r = api::loadEventWorker(object);
  if (auto* e = std::get_if<api::FieldErrors>(&r)) FAIL(api::describe(*e));
  return std::get<api::Loaded>(r).eventWorker;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string renderYaml(const api::EventWorker& ew) {
  std::string out;
  const auto objects = render::render(ew).objects;
  for (std::size_t i = 0; i < objects.size(); ++i) out += (i ? "---\n" : "") + api::toYaml(objects[i]);
  return out;
}

const Json* find(const std::vector<Json>& objects, const std::string& kind, const std::string& name) {
  for (const auto& o : objects)
    if (o["kind"] == kind && o["metadata"]["name"] == name) return &o;
  return nullptr;
}

const Json& container(const Json& workload, const std::string& name) {
  for (const auto& c : workload["spec"]["template"]["spec"]["containers"])
    if (c["name"] == name) return c;
  FAIL("no container " << name);
  throw;
}

Json configOf(const api::EventWorker& ew) {
  auto docs = api::parseDocuments(render::runtimeConfig(ew));
  REQUIRE(docs);
  return docs->at(0);
}

}  // namespace

// Golden files: operator/render/testdata/<sample>.yaml is the rendering of
// manifests/samples/<sample>.yaml. To accept a deliberate change, run the
// test with EW_UPDATE_GOLDEN=1 and review the diff.
TEST_CASE("samples render exactly as their golden files") {
  const fs::path samples = fs::path(EW_SOURCE_DIR) / "manifests" / "samples";
  const fs::path golden = fs::path(EW_SOURCE_DIR) / "operator" / "render" / "testdata";
  const bool update = std::getenv("EW_UPDATE_GOLDEN") != nullptr;
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(samples)) {
    if (entry.path().extension() != ".yaml") continue;
    ++seen;
    INFO("sample " << entry.path().filename());
    auto docs = api::parseDocuments(readFile(entry.path()));
    REQUIRE(docs);
    std::string rendered;
    for (const auto& d : *docs) rendered += (rendered.empty() ? "" : "---\n") + renderYaml(load(d));
    const fs::path want = golden / entry.path().filename();
    if (update) std::ofstream(want) << rendered;
    REQUIRE(fs::exists(want));
    CHECK(rendered == readFile(want));
  }
  CHECK(seen >= 3);
}

TEST_CASE("rendering is deterministic and names derive from the worker") {
  const auto ew = load(minimalEventWorker());
  CHECK(renderYaml(ew) == renderYaml(ew));
  const auto out = render::render(ew);
  REQUIRE(out.objects.size() == 3);
  CHECK(out.objects[0]["kind"] == "ConfigMap");
  CHECK(find(out.objects, "ConfigMap", "customer-worker-runtime"));
  CHECK(find(out.objects, "Deployment", "customer-worker-events"));
  CHECK(find(out.objects, "StatefulSet", "customer-worker-cron"));
  CHECK(out.selector == "eventworker.dev/name=customer-worker,eventworker.dev/component=events");
  CHECK(out.consumerGroup == "customer-worker");
  for (const auto& o : out.objects) {
    CHECK(o["metadata"]["labels"]["eventworker.dev/name"] == "customer-worker");
    CHECK(o["metadata"]["namespace"] == "shop");
    CHECK_FALSE(o["metadata"].contains("ownerReferences"));
  }
}

TEST_CASE("the events Deployment: two containers, probes, hash, restricted security") {
  const auto out = render::render(load(minimalEventWorker()), {"example/runtime:9"});
  const Json& d = *find(out.objects, "Deployment", "customer-worker-events");
  CHECK(d["spec"]["replicas"] == 1);
  CHECK(d["spec"]["selector"]["matchLabels"] ==
        Json{{"eventworker.dev/name", "customer-worker"}, {"eventworker.dev/component", "events"}});
  const Json& pod = d["spec"]["template"];
  CHECK(pod["metadata"]["annotations"]["eventworker.dev/config-hash"].get<std::string>().size() == 64);
  CHECK_FALSE(pod["metadata"]["annotations"].contains("dapr.io/enabled"));
  CHECK(pod["spec"]["securityContext"]["runAsNonRoot"] == true);
  CHECK(pod["spec"]["automountServiceAccountToken"] == false);
  const Json& rt = container(d, "runtime");
  CHECK(rt["image"] == "example/runtime:9");
  CHECK(rt["args"] == Json{"--config", "/etc/eventworker/runtime.yaml", "--mode", "events"});
  CHECK(rt["readinessProbe"]["httpGet"]["path"] == "/readyz");
  CHECK(rt["livenessProbe"]["httpGet"]["path"] == "/healthz");
  for (const char* name : {"runtime", "handler"}) {
    const Json& c = container(d, name);
    CHECK(c["securityContext"]["allowPrivilegeEscalation"] == false);
    CHECK(c["securityContext"]["readOnlyRootFilesystem"] == true);
    CHECK(c["securityContext"]["capabilities"]["drop"] == Json{"ALL"});
    CHECK(c["resources"].contains("requests"));
  }
  CHECK(container(d, "handler")["image"] == "registry.local/customer-service:1.4.2");
}

TEST_CASE("a config change changes the pod template's hash, a replica change does not") {
  const auto base = render::render(load(minimalEventWorker()));
  auto hash = [](const render::RenderOutput& o) {
    return (
        *find(o.objects, "Deployment",
              "customer-worker-events"))["spec"]["template"]["metadata"]["annotations"]["eventworker.dev/config-hash"];
  };
  Json edited = minimalEventWorker();
  edited["spec"]["subscriptions"][0]["concurrency"] = 8;
  CHECK(hash(render::render(load(edited))) != hash(base));
  CHECK(hash(render::render(load(patched({{"spec", {{"replicas", 4}}}})))) == hash(base));
}

TEST_CASE("replicas follow spec.replicas within the scaling bounds") {
  auto replicas = [](const Json& patch) {
    const auto o = render::render(load(patched(patch)));
    return (*find(o.objects, "Deployment", "customer-worker-events"))["spec"]["replicas"].get<int>();
  };
  CHECK(replicas({{"spec", {{"scaling", {{"minReplicas", 3}}}}}}) == 3);
  CHECK(replicas({{"spec", {{"replicas", 6}}}}) == 6);
  CHECK(replicas({{"spec", {{"replicas", 60}, {"scaling", {{"maxReplicas", 20}}}}}}) == 20);
}

TEST_CASE("the cron worker is a StatefulSet of one pod, so a replacement never starts beside the pod it replaces") {
  const auto out = render::render(load(minimalEventWorker()));
  CHECK_FALSE(find(out.objects, "Deployment", "customer-worker-cron"));
  const Json& s = *find(out.objects, "StatefulSet", "customer-worker-cron");
  CHECK(s["apiVersion"] == "apps/v1");
  CHECK(s["spec"]["replicas"] == 1);
  CHECK(s["spec"]["podManagementPolicy"] == "Parallel");  // a pod that is not Ready is still rolled
  CHECK(s["spec"]["updateStrategy"] == Json{{"type", "RollingUpdate"}});
  CHECK(s["spec"]["serviceName"] == "customer-worker-cron");
  CHECK_FALSE(s["spec"].contains("volumeClaimTemplates"));
  CHECK(s["spec"]["selector"]["matchLabels"] ==
        Json{{"eventworker.dev/name", "customer-worker"}, {"eventworker.dev/component", "cron"}});
  CHECK(s["spec"]["template"]["metadata"]["labels"]["eventworker.dev/component"] == "cron");
  CHECK(s["metadata"]["labels"]["eventworker.dev/component"] == "cron");
  CHECK(container(s, "runtime")["args"].back() == "cron");
  CHECK(container(s, "runtime").contains("readinessProbe"));
  CHECK(s["spec"]["template"]["metadata"]["annotations"].contains("eventworker.dev/config-hash"));
  // The same pod as the events pods, but for the mode and what only events use.
  Json cronPod = s["spec"]["template"];
  Json eventsPod = (*find(out.objects, "Deployment", "customer-worker-events"))["spec"]["template"];
  for (Json* pod : {&cronPod, &eventsPod}) {
    (*pod)["metadata"]["labels"].erase("eventworker.dev/component");
    (*pod)["metadata"]["labels"].erase("app.kubernetes.io/component");
    for (auto& c : (*pod)["spec"]["containers"])
      if (c["name"] == "runtime") c["args"].erase(c["args"].size() - 1);
  }
  CHECK(cronPod == eventsPod);

  Json suspended = minimalEventWorker();
  suspended["spec"]["cron"][0]["suspend"] = true;
  CHECK_FALSE(find(render::render(load(suspended)).objects, "StatefulSet", "customer-worker-cron"));
  Json cronOnly = patched({{"spec", {{"subscriptions", nullptr}, {"source", nullptr}}}});
  const auto o = render::render(load(cronOnly));
  CHECK_FALSE(find(o.objects, "Deployment", "customer-worker-events"));
  CHECK(find(o.objects, "StatefulSet", "customer-worker-cron"));
}

TEST_CASE("Dapr: annotations on the events pods and one scoped Subscription per subscription") {
  Json object = patched({{"spec", {{"dapr", {{"enabled", true}, {"appId", "customer-events"}}}}}});
  object["spec"]["subscriptions"][0]["deadLetterTopic"] = "order.completed.dlq";
  const auto ew = load(object);
  const auto out = render::render(ew);
  const Json& d = *find(out.objects, "Deployment", "customer-worker-events");
  const Json& a = d["spec"]["template"]["metadata"]["annotations"];
  CHECK(a["dapr.io/enabled"] == "true");
  CHECK(a["dapr.io/app-id"] == "customer-events");
  CHECK(a["dapr.io/app-port"] == "5005");
  CHECK(a["dapr.io/app-protocol"] == "http");
  CHECK(a["dapr.io/enable-app-health-check"] == "true");
  CHECK(a["dapr.io/graceful-shutdown-seconds"] == "25");
  const Json* sub = find(out.objects, "Subscription", "customer-worker-order-completed");
  REQUIRE(sub);
  CHECK((*sub)["apiVersion"] == "dapr.io/v2alpha1");
  CHECK((*sub)["spec"]["topic"] == "order.completed");
  CHECK((*sub)["spec"]["routes"]["default"] == "/events/order-completed");
  CHECK((*sub)["spec"]["deadLetterTopic"] == "order.completed.dlq");
  CHECK((*sub)["scopes"] == Json{"customer-events"});
  CHECK(out.consumerGroup == "customer-events");
  const Json* cron = find(out.objects, "StatefulSet", "customer-worker-cron");
  REQUIRE(cron);
  CHECK_FALSE((*cron)["spec"]["template"]["metadata"]["annotations"].contains("dapr.io/enabled"));
}

TEST_CASE("a noop handler has no handler container") {
  const auto out = render::render(load(patched({{"spec", {{"handler", {{"kind", "noop"}}}}}})));
  const Json& d = *find(out.objects, "Deployment", "customer-worker-events");
  CHECK(d["spec"]["template"]["spec"]["containers"].size() == 1);
}

TEST_CASE("outbox relays render a Deployment of two runtime pods in --mode outbox with each database Secret mounted") {
  const auto ew = load(patched(Json::parse(R"({
    "spec": {
      "source": {"kafka": {"brokers": ["kafka:9092"], "security": {"protocol": "SASL_SSL",
        "saslMechanism": "SCRAM-SHA-512", "secretRef": {"name": "kafka-creds"}}}},
      "outbox": [{"name": "orders", "connectionSecretRef": {"name": "order-db"}, "notifyChannel": "outbox_events"},
                 {"name": "payments", "connectionSecretRef": {"name": "pay-db", "key": "dsn"},
                  "table": "billing.payment_outbox", "topic": "payment.events", "columns": {"key": "aggregate_id"}}]
    }
  })")));
  const auto objects = render::render(ew).objects;
  const Json* d = find(objects, "Deployment", "customer-worker-outbox");
  REQUIRE(d);
  CHECK((*d)["spec"]["replicas"] == 2);
  const Json& pod = (*d)["spec"]["template"]["spec"];
  CHECK(pod["containers"].size() == 1);  // no handler container: the relays call none
  const Json& rt = container(*d, "runtime");
  CHECK(rt["args"] == Json::parse(R"(["--config", "/etc/eventworker/runtime.yaml", "--mode", "outbox"])"));
  std::set<std::string> mounts;
  for (const auto& m : rt["volumeMounts"]) mounts.insert(m["mountPath"].get<std::string>());
  CHECK(mounts == std::set<std::string>{"/etc/eventworker", "/var/run/secrets/kafka", "/var/run/secrets/outbox/orders",
                                        "/var/run/secrets/outbox/payments"});
  CHECK(pod["securityContext"]["fsGroup"] == 65532);
  bool payDb = false;
  for (const auto& v : pod["volumes"])
    if (v["name"] == "outbox-payments") {
      payDb = true;
      CHECK(v["secret"]["secretName"] == "pay-db");
      CHECK(v["secret"]["items"][0]["key"] == "dsn");
    }
  CHECK(payDb);

  const Json config = configOf(ew);
  REQUIRE(config["outbox"].size() == 2);
  const Json& orders = config["outbox"][0];
  CHECK(orders["connectionFile"] == "/var/run/secrets/outbox/orders/url");
  CHECK(orders["table"] == "outbox_events");
  CHECK(orders["notifyChannel"] == "outbox_events");
  CHECK(orders["columns"] == Json::parse(R"({"id": "id", "eventType": "event_type", "topic": "topic",
    "payload": "payload", "status": "status", "createdAt": "created_at"})"));
  CHECK(orders["completion"] == "markPublished");
  const Json& payments = config["outbox"][1];
  CHECK(payments["topic"] == "payment.events");
  CHECK(payments["columns"]["key"] == "aggregate_id");
  CHECK(payments["connectionFile"] == "/var/run/secrets/outbox/payments/dsn");
}

TEST_CASE("an outbox-only worker renders no events Deployment and still gets source.kafka in its config") {
  const auto ew = load(patched(Json::parse(R"({
    "spec": {"subscriptions": null, "cron": null,
             "outbox": [{"name": "orders", "connectionSecretRef": {"name": "order-db"}}]}
  })")));
  const auto objects = render::render(ew).objects;
  CHECK_FALSE(find(objects, "Deployment", "customer-worker-events"));
  CHECK(find(objects, "Deployment", "customer-worker-outbox"));
  const Json config = configOf(ew);
  CHECK(config["source"]["kafka"]["brokers"] == Json::array({"kafka:9092"}));
}

TEST_CASE(
    "streams render a Deployment of runtime pods in --mode streams (two by default) and a Service on the sse port") {
  const auto ew = load(patched(Json::parse(R"({
    "spec": {"subscriptions": null, "cron": null,
             "streams": [{"name": "orders", "topics": ["order.completed"], "path": "/streams/orders",
                          "filter": {"types": ["com.shop.order.completed"]},
                          "auth": {"mode": "bearer", "url": "http://customer:8080/auth"}}]}
  })")));
  const auto objects = render::render(ew).objects;
  CHECK_FALSE(find(objects, "Deployment", "customer-worker-events"));
  const Json* d = find(objects, "Deployment", "customer-worker-streams");
  REQUIRE(d);
  CHECK((*d)["spec"]["replicas"] == 2);
  const Json& pod = (*d)["spec"]["template"]["spec"];
  REQUIRE(pod["containers"].size() == 1);  // the runtime alone
  const Json& rt = pod["containers"][0];
  CHECK(rt["args"] == Json::parse(R"(["--config", "/etc/eventworker/runtime.yaml", "--mode", "streams"])"));
  CHECK(rt["ports"][1] == Json::parse(R"({"name": "sse", "containerPort": 8088, "protocol": "TCP"})"));
  const Json* svc = find(objects, "Service", "customer-worker-streams");
  REQUIRE(svc);
  CHECK((*svc)["spec"]["selector"] == (*d)["spec"]["selector"]["matchLabels"]);
  CHECK((*svc)["spec"]["ports"][0]["targetPort"] == "sse");
  const Json config = configOf(ew);
  CHECK(config["source"]["kafka"]["brokers"] == Json::array({"kafka:9092"}));
  CHECK(config["server"]["streamsAddress"] == "0.0.0.0:8088");
  REQUIRE(config["streams"].size() == 1);
  CHECK(config["streams"][0]["path"] == "/streams/orders");
  CHECK(config["streams"][0]["filter"]["types"] == Json::array({"com.shop.order.completed"}));
  CHECK(config["streams"][0]["auth"]["url"] == "http://customer:8080/auth");
  CHECK(config["streams"][0]["heartbeatInterval"] == "15s");
}

TEST_CASE("the streams Deployment starts at spec.streamsScaling.minReplicas (the operator scales it on clients)") {
  const auto ew = load(patched(Json::parse(R"({
    "spec": {"subscriptions": null, "cron": null, "streamsScaling": {"minReplicas": 3, "maxReplicas": 8},
             "streams": [{"name": "orders", "topics": ["order.completed"], "path": "/streams/orders"}]}
  })")));
  const auto objects = render::render(ew).objects;
  const Json* d = find(objects, "Deployment", "customer-worker-streams");
  REQUIRE(d);
  CHECK((*d)["spec"]["replicas"] == 3);
}

TEST_CASE(
    "a streams rollout loses no client: one pod added before one leaves, and a leaving pod stays in service "
    "(preStop sleep) until the Service has dropped it, then drains within the whole grace period") {
  const auto ew = load(patched(Json::parse(R"({
    "spec": {"subscriptions": null, "cron": null, "runtime": {"gracePeriodSeconds": 20},
             "streams": [{"name": "orders", "topics": ["order.completed"], "path": "/streams/orders"}]}
  })")));
  const auto objects = render::render(ew).objects;
  const Json* d = find(objects, "Deployment", "customer-worker-streams");
  REQUIRE(d);
  CHECK((*d)["spec"]["strategy"] ==
        Json::parse(R"({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})"));
  const Json& pod = (*d)["spec"]["template"]["spec"];
  const Json& sleep = pod["containers"][0]["lifecycle"]["preStop"]["sleep"];
  REQUIRE(sleep.contains("seconds"));
  const int leave = sleep["seconds"].get<int>();
  CHECK(leave >= 3);  // the EndpointSlice update, then kube-proxy's sync (1 s minimum)
  CHECK(pod["terminationGracePeriodSeconds"] == 20 + leave);
  CHECK(configOf(ew)["server"]["gracePeriod"] == "15s");  // the drain's own margin kept
  // Other runtime pods drain at once (no clients to move).
  const auto outbox = load(patched(Json::parse(R"({
    "spec": {"subscriptions": null, "cron": null, "runtime": {"gracePeriodSeconds": 20},
             "outbox": [{"name": "orders", "connectionSecretRef": {"name": "order-db"}}]}
  })")));
  const auto outboxObjects = render::render(outbox).objects;
  const Json* o = find(outboxObjects, "Deployment", "customer-worker-outbox");
  REQUIRE(o);
  CHECK_FALSE((*o)["spec"]["template"]["spec"]["containers"][0].contains("lifecycle"));
  CHECK((*o)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 20);
}
