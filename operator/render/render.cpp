#include "render/render.h"

#include <algorithm>
#include <cstdio>

#include <openssl/evp.h>

#include "api/operator_rules.h"
#include "render/names.h"

namespace ew::render {
namespace {

constexpr int kRuntimeUser = 65532;  // the runtime image's non-root user
constexpr int kDaprMetricsPort = 9091;

std::string sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

Json labels(const api::EventWorker& ew, const std::string& component) {
  return {{"app.kubernetes.io/name", "eventworker"},
          {"app.kubernetes.io/instance", ew.metadata.name},
          {"app.kubernetes.io/component", component},
          {"app.kubernetes.io/part-of", ew.spec.service},
          {"app.kubernetes.io/managed-by", "eventworker-operator"},
          {kNameLabel, ew.metadata.name},
          {kComponentLabel, component}};
}

Json metadata(const api::EventWorker& ew, const std::string& name, const std::string& component) {
  Json m = {{"name", name}, {"labels", labels(ew, component)}};
  if (!ew.metadata.nameSpace.empty()) m["namespace"] = ew.metadata.nameSpace;
  return m;
}

Json resources(const api::Resources& r) {
  Json out = Json::object();
  if (!r.requests.empty()) out["requests"] = r.requests;
  if (!r.limits.empty()) out["limits"] = r.limits;
  return out;
}

// The restricted Pod Security Standard, container level.
Json restrictedContainer(std::optional<int> user) {
  Json sc = {{"allowPrivilegeEscalation", false},
             {"capabilities", {{"drop", {"ALL"}}}},
             {"readOnlyRootFilesystem", true},
             {"runAsNonRoot", true},
             {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  if (user) {
    sc["runAsUser"] = *user;
    sc["runAsGroup"] = *user;
  }
  return sc;
}

Json probe(const std::string& path, int period, int failures) {
  return {{"httpGet", {{"path", path}, {"port", "metrics"}}},
          {"periodSeconds", period},
          {"timeoutSeconds", 2},
          {"failureThreshold", failures}};
}

// The Kafka credentials Secret is mounted where the runtime talks to Kafka:
// the events pods (consumer), the outbox pods (producer) and the streams pods (reader).
bool mountsKafkaSecret(const api::EventWorker& ew, const std::string& mode) {
  const auto& k = ew.spec.kafka;
  return (mode == "events" || mode == "outbox" || mode == "streams") && k && k->security && k->security->secretName;
}

std::string outboxVolume(const api::OutboxRelay& r) { return "outbox-" + r.name; }

Json runtimeContainer(const api::EventWorker& ew, const RenderOptions& options, const std::string& mode) {
  const auto& spec = ew.spec;
  Json ports = Json::array({{{"name", "metrics"}, {"containerPort", spec.runtime.metricsPort}, {"protocol", "TCP"}}});
  if (mode == "events" && spec.dapr.enabled)
    ports.push_back({{"name", "dapr-app"}, {"containerPort", spec.dapr.appPort}, {"protocol", "TCP"}});
  if (mode == "streams") ports.push_back({{"name", "sse"}, {"containerPort", api::kStreamsPort}, {"protocol", "TCP"}});
  Json mounts = Json::array({{{"name", "runtime-config"}, {"mountPath", kRuntimeConfigDir}, {"readOnly", true}}});
  if (mountsKafkaSecret(ew, mode))
    mounts.push_back({{"name", "kafka-credentials"}, {"mountPath", kKafkaSecretDir}, {"readOnly", true}});
  if (mode == "outbox")
    for (const auto& r : spec.outbox)
      mounts.push_back(
          {{"name", outboxVolume(r)}, {"mountPath", std::string(kOutboxSecretDir) + "/" + r.name}, {"readOnly", true}});
  return {{"name", "runtime"},
          {"image", spec.runtime.image.value_or(options.runtimeImage)},
          {"args", {"--config", std::string(kRuntimeConfigDir) + "/" + kRuntimeConfigKey, "--mode", mode}},
          {"ports", ports},
          {"startupProbe", probe("/healthz", 2, 30)},
          {"livenessProbe", probe("/healthz", 10, 3)},
          {"readinessProbe", probe("/readyz", 5, 3)},
          {"resources", resources(spec.runtime.resources)},
          {"securityContext", restrictedContainer(kRuntimeUser)},
          {"volumeMounts", mounts}};
}

Json handlerContainer(const api::HandlerSpec& h) {
  Json c = {{"name", "handler"},
            {"image", h.image},
            {"ports", Json::array({{{"name", "handler"}, {"containerPort", h.port}, {"protocol", "TCP"}}})},
            {"resources", resources(h.resources)},
            {"securityContext", restrictedContainer(std::nullopt)},
            {"volumeMounts", Json::array({{{"name", "handler-tmp"}, {"mountPath", "/tmp"}}})}};
  if (h.imagePullPolicy) c["imagePullPolicy"] = *h.imagePullPolicy;
  if (!h.command.empty()) c["command"] = h.command;
  if (!h.args.empty()) c["args"] = h.args;
  if (!h.env.empty()) c["env"] = h.env;
  return c;
}

Json daprAnnotations(const api::EventWorker& ew) {
  const auto& d = ew.spec.dapr;
  const int drain = drainSeconds(ew.spec.runtime.gracePeriodSeconds);
  return {{"dapr.io/enabled", "true"},
          {"dapr.io/app-id", ew.effectiveAppId()},
          {"dapr.io/app-port", std::to_string(d.appPort)},
          {"dapr.io/app-protocol", "http"},
          {"dapr.io/enable-app-health-check", "true"},
          {"dapr.io/app-health-check-path", "/healthz"},
          {"dapr.io/graceful-shutdown-seconds", std::to_string(drain)},
          {"dapr.io/log-level", d.logLevel},
          {"dapr.io/log-as-json", "true"},
          {"dapr.io/metrics-port", std::to_string(kDaprMetricsPort)},
          {"dapr.io/disable-builtin-k8s-secret-store", "true"}};
}

// The pod template of the events (MODE "events"), cron ("cron") or outbox
// ("outbox": the runtime alone; the relays call no handler) pods.
Json podTemplate(const api::EventWorker& ew, const RenderOptions& options, const std::string& mode,
                 const std::string& configHash) {
  const auto& spec = ew.spec;
  Json annotations = {{kConfigHashAnnotation, configHash},
                      {"prometheus.io/scrape", "true"},
                      {"prometheus.io/port", std::to_string(spec.runtime.metricsPort)},
                      {"prometheus.io/path", "/metrics"}};
  if (mode == "events" && spec.dapr.enabled) annotations.update(daprAnnotations(ew));

  Json containers = Json::array({runtimeContainer(ew, options, mode)});
  Json volumes = Json::array({{{"name", "runtime-config"},
                               {"configMap", {{"name", configMapName(ew.metadata.name)}, {"defaultMode", 0444}}}}});
  if (spec.handler.kind == api::HandlerSpec::Kind::Http && mode != "outbox" && mode != "streams") {
    containers.push_back(handlerContainer(spec.handler));
    volumes.push_back({{"name", "handler-tmp"}, {"emptyDir", {{"sizeLimit", "64Mi"}}}});
  }
  if (mountsKafkaSecret(ew, mode))
    volumes.push_back({{"name", "kafka-credentials"},
                       {"secret", {{"secretName", *spec.kafka->security->secretName}, {"defaultMode", 0440}}}});
  if (mode == "outbox")
    for (const auto& r : spec.outbox)
      volumes.push_back({{"name", outboxVolume(r)},
                         {"secret",
                          {{"secretName", r.secretName},
                           {"items", Json::array({{{"key", r.secretKey}, {"path", r.secretKey}}})},
                           {"defaultMode", 0440}}}});

  Json podSecurity = {{"runAsNonRoot", true}, {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  // The Secrets' files are root's with mode 0440: the runtime (kRuntimeUser)
  // reads them through the group the kubelet gives them.
  if (mountsKafkaSecret(ew, mode) || (mode == "outbox" && !spec.outbox.empty())) podSecurity["fsGroup"] = kRuntimeUser;
  Json podSpec = {{"automountServiceAccountToken", false},
                  {"enableServiceLinks", false},
                  {"terminationGracePeriodSeconds", spec.runtime.gracePeriodSeconds},
                  {"securityContext", podSecurity},
                  {"containers", containers},
                  {"volumes", volumes}};
  return {{"metadata", {{"labels", labels(ew, mode)}, {"annotations", annotations}}}, {"spec", podSpec}};
}

Json podSelector(const api::EventWorker& ew, const std::string& mode) {
  return {{"matchLabels", {{kNameLabel, ew.metadata.name}, {kComponentLabel, mode}}}};
}

Json eventsDeployment(const api::EventWorker& ew, const RenderOptions& options, const std::string& configHash) {
  const auto& spec = ew.spec;
  // Autoscaled: the starting count (the operator's autoscaler takes over).
  // Scaling off: what spec.replicas (kubectl scale) says, bounds or not.
  int replicas = spec.replicas.value_or(spec.scaling.minReplicas);
  if (spec.scaling.enabled) replicas = std::clamp(replicas, spec.scaling.minReplicas, spec.scaling.maxReplicas);
  Json deploymentSpec = {
      {"replicas", replicas},
      {"selector", podSelector(ew, "events")},
      {"revisionHistoryLimit", 3},
      // New pods join the group before old ones leave: no
      // capacity dip while the group rebalances.
      {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", 0}}}}},
      {"template", podTemplate(ew, options, "events", configHash)}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", metadata(ew, eventsDeploymentName(ew.metadata.name), "events")},
          {"spec", deploymentSpec}};
}

// The cron pod: one StatefulSet replica, so there is at most one pod object
// (<name>-cron-0) and the controller creates its replacement only once the
// old one is gone (see render.h). Parallel, not OrderedReady: with one
// replica the two differ only in that OrderedReady rolls nothing out while
// the pod is not Ready, so a pod broken by a bad handler image would stay
// after the EventWorker is fixed (kubernetes/kubernetes#67250). serviceName
// names a Service that is never created: the pod takes no traffic and needs
// no DNS name, and the OpenAPI schema of clusters before 1.33 lists the field
// as required (kubectl validates it). Both fields are immutable: changing
// either means deleting the StatefulSet first.
Json cronStatefulSet(const api::EventWorker& ew, const RenderOptions& options, const std::string& configHash) {
  const std::string name = cronStatefulSetName(ew.metadata.name);
  Json setSpec = {{"replicas", 1},
                  {"selector", podSelector(ew, "cron")},
                  {"serviceName", name},
                  {"podManagementPolicy", "Parallel"},
                  {"updateStrategy", {{"type", "RollingUpdate"}}},
                  {"revisionHistoryLimit", 3},
                  {"template", podTemplate(ew, options, "cron", configHash)}};
  return {
      {"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"metadata", metadata(ew, name, "cron")}, {"spec", setSpec}};
}

// A streams pod being stopped (a rollout, a scale-down, a deletion) keeps
// serving for kStreamsLeaveSeconds, a preStop sleep, while the EndpointSlice
// controller and kube-proxy take it out of the Service; only then does the
// kubelet's SIGTERM drain it (its clients told to reconnect). Drained at once,
// its clients would reconnect through rules that may still point at it, and a
// draining pod answers each of them with ew-reconnect again (not a 503, on
// which EventSource would give up for good): a second wait of the retry hint
// for each. The grace period grows by as much, so the drain
// keeps all of spec.runtime.gracePeriodSeconds. (The sleep action: on by
// default since Kubernetes 1.30, GA in 1.34.)
constexpr int kStreamsLeaveSeconds = 5;

void leaveServiceBeforeDrain(Json& podTemplate, int gracePeriodSeconds) {
  Json& spec = podTemplate["spec"];
  spec["terminationGracePeriodSeconds"] = gracePeriodSeconds + kStreamsLeaveSeconds;
  spec["containers"][0]["lifecycle"] = {{"preStop", {{"sleep", {{"seconds", kStreamsLeaveSeconds}}}}}};
}

// REPLICAS runtime pods alone in --mode MODE, rolled one extra pod at a time.
// The outbox relays: one publishes per table (the advisory lock in
// PostgreSQL, worker-runtime/loops/outbox_relay.h) and one stands by to take
// over at once; a rollout may briefly run three, the lock still lets one
// publish. The streams (the SSE gateway): a client whose pod goes away
// reconnects to the other with its Last-Event-ID, and any pod resumes any
// client (the position is in the token); they start at
// spec.streamsScaling.minReplicas and the operator scales them on their
// connected clients.
Json runtimePairDeployment(const api::EventWorker& ew, const RenderOptions& options, const std::string& mode,
                           const std::string& name, const std::string& configHash, int replicas) {
  Json pods = podTemplate(ew, options, mode, configHash);
  if (mode == "streams") leaveServiceBeforeDrain(pods, ew.spec.runtime.gracePeriodSeconds);
  Json deploymentSpec = {
      {"replicas", replicas},
      {"selector", podSelector(ew, mode)},
      {"revisionHistoryLimit", 3},
      {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}}},
      {"template", pods}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", metadata(ew, name, mode)},
          {"spec", deploymentSpec}};
}

// What the clients connect to: every stream's path on port kStreamsPort.
Json streamsService(const api::EventWorker& ew) {
  Json spec = {
      {"selector", {{kNameLabel, ew.metadata.name}, {kComponentLabel, "streams"}}},
      {"ports",
       Json::array({{{"name", "sse"}, {"port", api::kStreamsPort}, {"targetPort", "sse"}, {"protocol", "TCP"}}})}};
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadata(ew, streamsName(ew.metadata.name), "streams")},
          {"spec", spec}};
}

Json daprSubscription(const api::EventWorker& ew, const api::Subscription& s) {
  Json spec = {{"pubsubname", ew.spec.dapr.pubsubName}, {"topic", s.topic}, {"routes", {{"default", s.route}}}};
  if (s.deadLetterTopic) spec["deadLetterTopic"] = *s.deadLetterTopic;
  return {{"apiVersion", "dapr.io/v2alpha1"},
          {"kind", "Subscription"},
          {"metadata", metadata(ew, subscriptionName(ew.metadata.name, s.name), "subscription")},
          {"spec", spec},
          {"scopes", {ew.effectiveAppId()}}};
}

}  // namespace

RenderOutput render(const api::EventWorker& ew, const RenderOptions& options) {
  RenderOutput out;
  const std::string config = runtimeConfig(ew);
  const std::string hash = sha256Hex(config);
  out.objects.push_back({{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata", metadata(ew, configMapName(ew.metadata.name), "runtime-config")},
                         {"data", {{kRuntimeConfigKey, config}}}});
  if (!ew.spec.subscriptions.empty()) out.objects.push_back(eventsDeployment(ew, options, hash));
  const bool anyCron = std::any_of(ew.spec.cron.begin(), ew.spec.cron.end(), [](const auto& c) { return !c.suspend; });
  if (anyCron) out.objects.push_back(cronStatefulSet(ew, options, hash));
  if (!ew.spec.outbox.empty())
    out.objects.push_back(
        runtimePairDeployment(ew, options, "outbox", outboxDeploymentName(ew.metadata.name), hash, 2));
  if (!ew.spec.streams.empty()) {
    out.objects.push_back(runtimePairDeployment(ew, options, "streams", streamsName(ew.metadata.name), hash,
                                                ew.spec.streamsScaling.minReplicas));
    out.objects.push_back(streamsService(ew));
  }
  if (ew.spec.dapr.enabled)
    for (const auto& s : ew.spec.subscriptions) out.objects.push_back(daprSubscription(ew, s));
  out.selector = eventsSelector(ew.metadata.name);
  out.consumerGroup = ew.spec.subscriptions.empty() ? "" : ew.effectiveConsumerGroup();
  return out;
}

}  // namespace ew::render
