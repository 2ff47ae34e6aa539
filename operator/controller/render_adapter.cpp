#include "controller/render_adapter.h"

#include <algorithm>

#include "api/load.h"
#include "render/names.h"

namespace ew::controller {

KafkaAccess kafkaAccess(const api::EventWorker& ew) {
  KafkaAccess a;
  const api::KafkaSource& k = *ew.spec.kafka;
  for (const auto& b : k.brokers) a.bootstrapServers += (a.bootstrapServers.empty() ? "" : ",") + b;
  if (!k.security || k.security->protocol == "PLAINTEXT") return a;
  a.protocol = k.security->protocol;
  a.saslMechanism = k.security->saslMechanism.value_or("");
  a.secretName = k.security->operatorSecretName.value_or("");
  a.clientCertificate = k.security->clientCertificate;
  a.workerNamespace = ew.metadata.nameSpace;
  return a;
}

ScaleTarget scaleTarget(const api::EventWorker& ew) {
  const api::ScalingSpec& s = ew.spec.scaling;
  ScaleTarget t;
  t.cluster = kafkaAccess(ew);
  t.group = ew.effectiveConsumerGroup();
  for (const auto& sub : ew.spec.subscriptions) t.topics.push_back(sub.topic);
  std::sort(t.topics.begin(), t.topics.end());
  t.topics.erase(std::unique(t.topics.begin(), t.topics.end()), t.topics.end());
  t.offsetReset =
      ew.spec.kafka->offsetReset == "latest" ? autoscale::OffsetReset::Latest : autoscale::OffsetReset::Earliest;
  t.policy.minReplicas = s.minReplicas;
  t.policy.maxReplicas = s.maxReplicas;
  t.policy.lagThreshold = s.lagThreshold;
  t.policy.activationLagThreshold = s.activationLagThreshold;
  t.policy.targetDrainSeconds = s.targetDrainSeconds;
  t.policy.scaleDownStabilizationSeconds = s.scaleDownStabilizationSeconds;
  t.policy.fallback.failureThreshold = s.fallback.failureThreshold;
  t.policy.fallback.replicas = s.fallback.replicas;
  t.policy.cooldownSeconds = s.cooldownSeconds;
  t.policy.maxScaleDownPercent = s.maxScaleDownPercent;
  t.policy.allowIdleConsumers = s.allowIdleConsumers;
  t.policy.predictive = s.predictive;
  t.pollInterval = std::chrono::seconds(s.pollIntervalSeconds);
  return t;
}

StreamsTarget streamsTarget(const api::EventWorker& ew) {
  const api::StreamsScalingSpec& s = ew.spec.streamsScaling;
  StreamsTarget t;
  t.port = ew.spec.runtime.metricsPort;
  t.policy = {s.minReplicas, s.maxReplicas, s.targetClientsPerReplica, s.scaleDownStabilizationSeconds};
  return t;
}

RenderFn makeRenderFn(render::RenderOptions options) {
  return [options = std::move(options)](const kube::Json& eventWorker) -> Result<Rendered> {
    auto loaded = api::loadEventWorker(eventWorker);
    if (auto* errors = std::get_if<api::FieldErrors>(&loaded)) return Error{api::describe(*errors)};
    const api::EventWorker& ew = std::get<api::Loaded>(loaded).eventWorker;
    auto out = render::render(ew, options);
    Rendered r{std::move(out.objects),
               std::move(out.selector),
               std::move(out.consumerGroup),
               "",
               std::nullopt,
               std::nullopt,
               std::nullopt,
               "",
               std::nullopt};
    if (ew.spec.kafka && !ew.spec.subscriptions.empty()) {
      r.eventsDeployment = render::eventsDeploymentName(ew.metadata.name);
      if (ew.spec.scaling.enabled) r.scale = scaleTarget(ew);
    }
    if (!ew.spec.outbox.empty()) {
      OutboxTarget t;
      for (const auto& relay : ew.spec.outbox) t.relays.push_back(relay.name);
      t.port = ew.spec.runtime.metricsPort;
      r.outbox = std::move(t);
    }
    if (!ew.spec.streams.empty()) {
      r.streamsDeployment = render::streamsName(ew.metadata.name);
      r.streams = streamsTarget(ew);
    }
    if (ew.spec.migrateFrom) {
      Rendered::Migration m;
      m.request.appId = ew.spec.migrateFrom->appId;
      m.request.handoff = ew.spec.migrateFrom->handoff;
      m.request.settleSeconds = ew.spec.migrateFrom->settleSeconds;
      m.request.programmatic = ew.spec.migrateFrom->programmaticSubscriptions;
      m.request.pubsubName = ew.spec.dapr.pubsubName;
      for (const auto& sub : ew.spec.subscriptions)
        if (std::find(m.request.topics.begin(), m.request.topics.end(), sub.topic) == m.request.topics.end())
          m.request.topics.push_back(sub.topic);
      if (ew.spec.kafka) m.cluster = kafkaAccess(ew);
      m.workerGroup = ew.effectiveConsumerGroup();
      r.migration = std::move(m);
    }
    return r;
  };
}

Result<Rendered> renderEventWorker(const kube::Json& eventWorker) {
  static const RenderFn fn = makeRenderFn({});
  return fn(eventWorker);
}

}  // namespace ew::controller
