// eventworker-operator: watches EventWorkers and reconciles their workers.
// Thin: flags, wiring, signals. Leader election gates every write.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <random>

#include "controller/controller.h"
#include "controller/kafka_credentials.h"
#include "controller/kafka_lag.h"
#include "controller/leader_election.h"
#include "controller/render_adapter.h"
#include "ew/http_endpoints.h"
#include "ew/process_exit.h"
#include "kube/api.h"
#include "kube/client.h"
#include "kube/watcher.h"

#ifndef EW_VERSION
#define EW_VERSION "dev"
#endif

using namespace ew;

namespace {

std::atomic<int> gSignal{0};
void onSignal(int sig) { gSignal = sig; }

Result<kube::ClusterAccess> clusterAccess(const std::string& kubeconfig, const std::string& context) {
  if (!kubeconfig.empty()) return kube::loadKubeconfig(kubeconfig, context);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) return kube::loadKubeconfig(env, context);
  return kube::loadInCluster();
}

std::string defaultIdentity() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(::getpid());
}

}  // namespace

int main(int argc, char** argv) {
  // Few malloc arenas: glibc's default (8 per core) keeps freed memory per
  // thread and multiplies the operator's resident set for no gain.
  mallopt(M_ARENA_MAX, 2);
  // cpprestsdk's I/O pool: 4 threads, not its default 40 (see setIoThreads).
  kube::setIoThreads(4);
  CLI::App app{"eventworker-operator: reconciles EventWorker resources into worker Deployments and StatefulSets"};
  app.set_version_flag("--version", "eventworker-operator " EW_VERSION);
  std::string kubeconfig, context, ns, metricsAddress = "127.0.0.1:8080", leaseNamespace, identity = defaultIdentity();
  std::string credentialsNamespace;
  std::string logFormat = "text";
  int workers = 2, resyncSeconds = 600;
  double leaseSeconds = 15, renewSeconds = 10, retrySeconds = 2;
  bool leaderElect = true;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig file (default: $KUBECONFIG, else in-cluster)");
  app.add_option("--context", context, "kubeconfig context (default: current-context)");
  app.add_option("--namespace", ns, "watch only this namespace (default: all)")->envname("EW_WATCH_NAMESPACE");
  app.add_option("--workers", workers, "concurrent reconciles")->check(CLI::Range(1, 64));
  app.add_option("--metrics-address", metricsAddress, "host:port of /healthz /readyz /metrics")
      ->envname("EW_METRICS_ADDRESS");
  app.add_option("--leader-elect", leaderElect, "elect a leader on a Lease before writing");
  app.add_option("--lease-namespace", leaseNamespace,
                 "namespace of the Lease (default: --namespace, else $POD_NAMESPACE, else default)");
  app.add_option("--identity", identity, "leader election identity (default: hostname_pid)");
  app.add_option("--lease-duration", leaseSeconds, "seconds a lease is valid without renewal")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--renew-deadline", renewSeconds, "seconds the leader keeps trying to renew before giving up")
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--retry-period", retrySeconds, "seconds between lease attempts")->check(CLI::Range(0.1, 600.0));
  app.add_option("--resync-seconds", resyncSeconds, "period of the full resync")->check(CLI::Range(1, 86400));
  render::RenderOptions renderOptions;
  app.add_option("--runtime-image", renderOptions.runtimeImage, "eventworker-runtime image for workers that name none")
      ->envname("EW_RUNTIME_IMAGE")
      ->capture_default_str();
  bool autoscale = true;
  double lagTimeoutSeconds = 5;
  app.add_option("--autoscale", autoscale, "follow Kafka consumer lag (false: events Deployments keep their replicas)")
      ->capture_default_str();
  app.add_option("--lag-read-timeout", lagTimeoutSeconds, "seconds one batched lag read may take")
      ->check(CLI::Range(0.1, 120.0))
      ->capture_default_str();
  app.add_option("--kafka-credentials-namespace", credentialsNamespace,
                 "namespace of the Secrets with the operator's Kafka credentials (operatorSecretRef; default: "
                 "$POD_NAMESPACE, else the service account's)");
  app.add_option("--log-format", logFormat, "text | json")->check(CLI::IsMember({"text", "json"}));
  CLI11_PARSE(app, argc, argv);
  if (logFormat == "json")
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})", spdlog::pattern_time_type::utc);

  auto access = clusterAccess(kubeconfig, context);
  if (!access) {
    spdlog::error("{}", access.error().message);
    return 2;
  }
  const char* podNs = std::getenv("POD_NAMESPACE");
  if (leaseNamespace.empty()) leaseNamespace = !ns.empty() ? ns : podNs ? podNs : access->defaultNamespace;
  if (credentialsNamespace.empty()) credentialsNamespace = podNs ? podNs : access->defaultNamespace;

  MetricsRegistry metrics;
  kube::KubeClient client(*access);
  client.setObserver([&metrics](kube::Verb verb, int code) {
    metrics
        .counter("eventworker_api_requests_total", "Requests to the kube-apiserver by verb and HTTP code.",
                 {{"verb", kube::verbName(verb)}, {"code", std::to_string(code)}})
        .inc();
  });
  kube::KubeApi api(client);

  const bool dapr = api.get(kube::resources::kCustomResourceDefinition, "", "subscriptions.dapr.io").ok();
  spdlog::info(
      "starting: namespace={} workers={} dapr-subscriptions={} leader-elect={} identity={} "
      "kafka-credentials-namespace={}",
      ns.empty() ? "*" : ns, workers, dapr, leaderElect, identity, credentialsNamespace);

  std::mt19937_64 rng(std::random_device{}());
  std::mutex rngMu;
  auto random01 = [&] {
    std::lock_guard l(rngMu);
    return std::uniform_real_distribution<double>(0, 1)(rng);
  };
  controller::ControllerOptions options;
  options.ns = ns;
  options.workers = workers;
  options.resyncPeriod = std::chrono::seconds(resyncSeconds);
  options.daprSubscriptions = dapr;
  const autoscale::Millis lagTimeout(static_cast<int64_t>(lagTimeoutSeconds * 1000));
  // The operator's Kafka credentials: the labelled Secrets of one namespace,
  // kept by a watch so that a changed Secret is used at the next poll.
  kube::Store kafkaSecrets;
  kube::WatcherOptions secretsWatch;
  secretsWatch.ns = credentialsNamespace;
  secretsWatch.labelSelector = std::string(controller::kKafkaCredentialsLabel) + "=true";
  kube::Watcher secretsWatcher(
      api, kube::resources::kSecret, secretsWatch, kafkaSecrets, [](const std::string&) {}, random01);
  std::thread secretsThread([&] { secretsWatcher.run(); });
  controller::OperatorSecrets secrets{credentialsNamespace,
                                      [&kafkaSecrets, credentialsNamespace](const std::string& name) {
                                        return kafkaSecrets.get(credentialsNamespace + "/" + name);
                                      }};
  auto lagReaders = std::make_shared<autoscale::LagReaderPool>(lagTimeout);
  if (autoscale) options.lagReader = controller::lagReadFn(lagReaders, secrets);
  options.migrationKafka = controller::migrationKafka(lagReaders, lagTimeout, secrets);
  controller::Controller ctl(api, options, controller::makeRenderFn(renderOptions), metrics, random01);

  std::atomic<bool> leading{!leaderElect};
  HttpEndpoints http(metricsAddress);
  http.handle("/healthz", [] { return HttpReply{200, "ok\n"}; });
  http.handle("/readyz", [&] {
    // Ready when not leading (a standby is healthy) or when the caches are synced.
    if (leading && !ctl.synced()) return HttpReply{503, "caches not synced\n"};
    return HttpReply{200, "ok\n"};
  });
  http.handle("/metrics", [&] { return HttpReply{200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8"}; });
  if (auto s = http.start(); !s) {
    spdlog::error("{}", s.error().message);
    return 2;
  }

  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);

  const TimeSource& clock = systemTime();
  controller::LeaseConfig lease;
  lease.ns = leaseNamespace;
  lease.identity = identity;
  auto ms = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); };
  lease.leaseDuration = ms(leaseSeconds);
  lease.renewDeadline = ms(renewSeconds);
  lease.retryPeriod = ms(retrySeconds);
  controller::LeaderElector elector(api, lease, clock);
  std::thread signalWatch([&] {
    while (!gSignal) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    spdlog::info("signal {}: stopping", gSignal.load());
    elector.stop();
  });

  int rc = 0;
  if (leaderElect) {
    const bool graceful = elector.run(
        [&] {
          spdlog::info("became leader ({}/{})", lease.ns, lease.name);
          leading = true;
          ctl.start();
        },
        [&] {
          ctl.stop();  // finishes in-flight reconciles
          leading = false;
        });
    if (!graceful) {
      spdlog::error("lost the lease: exiting so that a restart re-elects");
      rc = 1;
    }
  } else {
    ctl.start();
    while (!gSignal) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ctl.stop();
  }
  if (!gSignal) gSignal = SIGTERM;  // release the signal thread
  signalWatch.join();
  secretsWatcher.stop();
  secretsThread.join();
  http.stop();
  spdlog::info("stopped");
  spdlog::shutdown();
  // Everything of ours is stopped and joined: leave without static teardown
  // (see ew/process_exit.h).
  ew::exitProcess(rc);
}
