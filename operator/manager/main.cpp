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

struct Flags {
  std::string kubeconfig, context, ns, metricsAddress = "127.0.0.1:8080", leaseNamespace, identity = defaultIdentity();
  std::string credentialsNamespace;
  std::string logFormat = "text";
  int workers = 2, resyncSeconds = 600;
  double leaseSeconds = 15, renewSeconds = 10, retrySeconds = 2;
  bool leaderElect = true;
  render::RenderOptions renderOptions;
  bool autoscale = true;
  double lagTimeoutSeconds = 5;
};

void addFlags(CLI::App& app, Flags& f) {
  app.set_version_flag("--version", "eventworker-operator " EW_VERSION);
  app.add_option("--kubeconfig", f.kubeconfig, "kubeconfig file (default: $KUBECONFIG, else in-cluster)");
  app.add_option("--context", f.context, "kubeconfig context (default: current-context)");
  app.add_option("--namespace", f.ns, "watch only this namespace (default: all)")->envname("EW_WATCH_NAMESPACE");
  app.add_option("--workers", f.workers, "concurrent reconciles")->check(CLI::Range(1, 64));
  app.add_option("--metrics-address", f.metricsAddress, "host:port of /healthz /readyz /metrics")
      ->envname("EW_METRICS_ADDRESS");
  app.add_option("--leader-elect", f.leaderElect, "elect a leader on a Lease before writing");
  app.add_option("--lease-namespace", f.leaseNamespace,
                 "namespace of the Lease (default: --namespace, else $POD_NAMESPACE, else default)");
  app.add_option("--identity", f.identity, "leader election identity (default: hostname_pid)");
  app.add_option("--lease-duration", f.leaseSeconds, "seconds a lease is valid without renewal")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--renew-deadline", f.renewSeconds, "seconds the leader keeps trying to renew before giving up")
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--retry-period", f.retrySeconds, "seconds between lease attempts")->check(CLI::Range(0.1, 600.0));
  app.add_option("--resync-seconds", f.resyncSeconds, "period of the full resync")->check(CLI::Range(1, 86400));
  app.add_option("--runtime-image", f.renderOptions.runtimeImage,
                 "eventworker-runtime image for workers that name none")
      ->envname("EW_RUNTIME_IMAGE")
      ->capture_default_str();
  app.add_option("--autoscale", f.autoscale,
                 "follow Kafka consumer lag (false: events Deployments keep their replicas)")
      ->capture_default_str();
  app.add_option("--lag-read-timeout", f.lagTimeoutSeconds, "seconds one batched lag read may take")
      ->check(CLI::Range(0.1, 120.0))
      ->capture_default_str();
  app.add_option("--kafka-credentials-namespace", f.credentialsNamespace,
                 "namespace of the Secrets with the operator's Kafka credentials (operatorSecretRef; default: "
                 "$POD_NAMESPACE, else the service account's)");
  app.add_option("--log-format", f.logFormat, "text | json")->check(CLI::IsMember({"text", "json"}));
}

// The namespaces left to their defaults: the Lease's (--namespace, else the
// pod's, else the kubeconfig's) and the Kafka credentials' (the pod's, else
// the kubeconfig's).
void defaultNamespaces(Flags& f, const kube::ClusterAccess& access) {
  const char* podNs = std::getenv("POD_NAMESPACE");
  if (f.leaseNamespace.empty()) f.leaseNamespace = !f.ns.empty() ? f.ns : podNs ? podNs : access.defaultNamespace;
  if (f.credentialsNamespace.empty()) f.credentialsNamespace = podNs ? podNs : access.defaultNamespace;
}

// eventworker_api_requests_total counts CLIENT's requests by verb and code.
void countRequests(kube::KubeClient& client, MetricsRegistry& metrics) {
  client.setObserver([&metrics](kube::Verb verb, int code) {
    metrics
        .counter("eventworker_api_requests_total", "Requests to the kube-apiserver by verb and HTTP code.",
                 {{"verb", kube::verbName(verb)}, {"code", std::to_string(code)}})
        .inc();
  });
}

// Whether Dapr's Subscription CRD exists (the operator then owns the
// workers' Subscriptions); logs the operator's start with it.
bool daprSubscriptionsInstalled(kube::Api& api, const Flags& f) {
  const bool dapr = api.get(kube::resources::kCustomResourceDefinition, "", "subscriptions.dapr.io").ok();
  spdlog::info(
      "starting: namespace={} workers={} dapr-subscriptions={} leader-elect={} identity={} "
      "kafka-credentials-namespace={}",
      f.ns.empty() ? "*" : f.ns, f.workers, dapr, f.leaderElect, f.identity, f.credentialsNamespace);
  return dapr;
}

// Uniform in [0, 1), safe to call from any thread.
std::function<double()> sharedRandom01() {
  struct State {
    std::mt19937_64 rng{std::random_device{}()};
    std::mutex mu;
  };
  auto state = std::make_shared<State>();
  return [state] {
    std::lock_guard l(state->mu);
    return std::uniform_real_distribution<double>(0, 1)(state->rng);
  };
}

// The operator's Kafka credentials: the labelled Secrets of one namespace,
// kept by a watch so that a changed Secret is used at the next poll.
class KafkaSecretsWatch {
 public:
  KafkaSecretsWatch(kube::Api& api, const std::string& ns, std::function<double()> random01)
      : ns_(ns),
        watcher_(
            api, kube::resources::kSecret, options(ns), store_, [](const std::string&) {}, random01) {
    thread_ = std::thread([this] { watcher_.run(); });
  }
  ~KafkaSecretsWatch() { stop(); }
  void stop() {
    watcher_.stop();
    if (thread_.joinable()) thread_.join();
  }
  // REQUIRES: used while this watch lives.
  controller::OperatorSecrets secrets() {
    return {ns_, [this](const std::string& name) { return store_.get(ns_ + "/" + name); }};
  }

 private:
  static kube::WatcherOptions options(const std::string& ns) {
    kube::WatcherOptions o;
    o.ns = ns;
    o.labelSelector = std::string(controller::kKafkaCredentialsLabel) + "=true";
    return o;
  }
  std::string ns_;
  kube::Store store_;
  kube::Watcher watcher_;
  std::thread thread_;
};

controller::ControllerOptions controllerOptions(const Flags& f, bool dapr, const controller::OperatorSecrets& secrets) {
  controller::ControllerOptions options;
  options.ns = f.ns;
  options.workers = f.workers;
  options.resyncPeriod = std::chrono::seconds(f.resyncSeconds);
  options.daprSubscriptions = dapr;
  const autoscale::Millis lagTimeout(static_cast<int64_t>(f.lagTimeoutSeconds * 1000));
  auto lagReaders = std::make_shared<autoscale::LagReaderPool>(lagTimeout);
  if (f.autoscale) options.lagReader = controller::lagReadFn(lagReaders, secrets);
  options.migrationKafka = controller::migrationKafka(lagReaders, lagTimeout, secrets);
  options.podStatusReader = controller::httpPodStatusReader(std::chrono::seconds(2));
  return options;
}

void addEndpoints(HttpEndpoints& http, const std::atomic<bool>& leading, const controller::Controller& ctl,
                  const MetricsRegistry& metrics) {
  http.handle("/healthz", [] { return HttpReply{200, "ok\n"}; });
  http.handle("/readyz", [&] {
    // Ready when not leading (a standby is healthy) or when the caches are synced.
    if (leading && !ctl.synced()) return HttpReply{503, "caches not synced\n"};
    return HttpReply{200, "ok\n"};
  });
  http.handle("/metrics", [&] { return HttpReply{200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8"}; });
}

controller::LeaseConfig leaseConfig(const Flags& f) {
  controller::LeaseConfig lease;
  lease.ns = f.leaseNamespace;
  lease.identity = f.identity;
  auto ms = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); };
  lease.leaseDuration = ms(f.leaseSeconds);
  lease.renewDeadline = ms(f.renewSeconds);
  lease.retryPeriod = ms(f.retrySeconds);
  return lease;
}

// Runs the controller until a signal (or, electing, the lost lease); returns
// the exit code. LEADER (eventworker_leader) is 1 while this replica
// reconciles.
int runController(bool leaderElect, const controller::LeaseConfig& lease, controller::LeaderElector& elector,
                  controller::Controller& ctl, std::atomic<bool>& leading, Gauge& leader) {
  if (!leaderElect) {
    leader.set(1);
    ctl.start();
    while (!gSignal) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ctl.stop();
    return 0;
  }
  const bool graceful = elector.run(
      [&] {
        spdlog::info("became leader ({}/{})", lease.ns, lease.name);
        leading = true;
        leader.set(1);
        ctl.start();
      },
      [&] {
        ctl.stop();  // finishes in-flight reconciles
        leading = false;
        leader.set(0);
      });
  if (graceful) return 0;
  spdlog::error("lost the lease: exiting so that a restart re-elects");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Few malloc arenas: glibc's default (8 per core) keeps freed memory per
  // thread and multiplies the operator's resident set for no gain.
  mallopt(M_ARENA_MAX, 2);
  // A fixed mmap threshold: buffers of 128 KiB and more (a /metrics scrape,
  // list responses) are mapped and given back when freed. glibc's default
  // raises the threshold to the largest such buffer freed, after which they
  // come from the heap and leave it fragmented at its high-water mark.
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  // The system CAs by hash, not a bundle parsed per connection (see preferHashedSystemTrust).
  kube::preferHashedSystemTrust();
  // cpprestsdk's I/O pool: 4 threads, not its default 40 (see setIoThreads).
  kube::setIoThreads(4);
  CLI::App app{"eventworker-operator: reconciles EventWorker resources into worker Deployments and StatefulSets"};
  Flags flags;
  addFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  if (flags.logFormat == "json")
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})", spdlog::pattern_time_type::utc);

  auto access = clusterAccess(flags.kubeconfig, flags.context);
  if (!access) {
    spdlog::error("{}", access.error().message);
    return 2;
  }
  defaultNamespaces(flags, *access);

  MetricsRegistry metrics;
  kube::KubeClient client(*access);
  countRequests(client, metrics);
  kube::KubeApi api(client);
  const bool dapr = daprSubscriptionsInstalled(api, flags);

  const auto random01 = sharedRandom01();
  KafkaSecretsWatch kafkaSecrets(api, flags.credentialsNamespace, random01);
  controller::Controller ctl(api, controllerOptions(flags, dapr, kafkaSecrets.secrets()),
                             controller::makeRenderFn(flags.renderOptions), metrics, random01);

  std::atomic<bool> leading{!flags.leaderElect};
  HttpEndpoints http(flags.metricsAddress);
  addEndpoints(http, leading, ctl, metrics);
  if (auto s = http.start(); !s) {
    spdlog::error("{}", s.error().message);
    return 2;
  }

  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);

  const controller::LeaseConfig lease = leaseConfig(flags);
  controller::LeaderElector elector(api, lease, systemTime());
  std::thread signalWatch([&] {
    while (!gSignal) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    spdlog::info("signal {}: stopping", gSignal.load());
    elector.stop();
  });

  Gauge& leader = metrics.gauge("eventworker_leader",
                                "1 while this replica holds the lease (or runs without leader election), else 0.");
  const int rc = runController(flags.leaderElect, lease, elector, ctl, leading, leader);
  if (!gSignal) gSignal = SIGTERM;  // release the signal thread
  signalWatch.join();
  kafkaSecrets.stop();
  http.stop();
  spdlog::info("stopped");
  spdlog::shutdown();
  // Everything of ours is stopped and joined: leave without static teardown
  // (see ew/process_exit.h).
  ew::exitProcess(rc);
}
