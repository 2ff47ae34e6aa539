// eventworker-runtime --config FILE [--mode events|cron|all|outbox|streams] [--check-config] [--version] [--help]
//
// Exit codes: 0 clean shutdown (or config OK), 1 runtime failure, 2 bad usage
// or bad config (one line on stderr naming the field).
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "clients/app_server.h"
#include "clients/exec_handler.h"
#include "clients/http_handler.h"
#include "clients/kafka_consumer.h"
#include "clients/kafka_producer.h"
#include "clients/kafka_security.h"
#include "clients/noop_handler.h"
#include "clients/redis_id_store.h"
#include "core/config.h"
#include "loops/cron_mode.h"
#include "loops/dapr_source.h"
#include "loops/dispatcher.h"
#include "loops/event_source.h"
#include "loops/ops_server.h"
#include "loops/outbox_mode.h"
#include "streams/streams_mode.h"

#ifndef EW_VERSION
#define EW_VERSION "dev"
#endif

using namespace ew::runtime;
using ew::Millis;

namespace {

// How long the security probe waits for a broker to answer or refuse.
constexpr std::chrono::seconds kKafkaProbeTimeout{10};

struct Args {
  std::string config;
  std::string mode = "events";
  bool checkConfig = false;
};

// Exits 0 after --help or --version, 2 on a usage error (CLI11's message
// and the usage), like the operator's flags.
Args parseArgs(int argc, char** argv) {
  Args a;
  CLI::App app{"eventworker-runtime: runs an EventWorker's subscriptions (events) or cron jobs (cron)"};
  app.set_version_flag("--version", std::string("eventworker-runtime ") + EW_VERSION);
  app.add_option("--config", a.config, "the runtime config (runtime.yaml)")->required();
  app.add_option("--mode", a.mode, "what to run: events, cron, all (events and cron), outbox or streams")
      ->check(CLI::IsMember({"events", "cron", "all", "outbox", "streams"}))
      ->capture_default_str();
  app.add_flag("--check-config", a.checkConfig, "validate the config (and its files) and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);
  }
  return a;
}

void setupLogging(const LogConfig& log) {
  auto logger = spdlog::stderr_logger_mt("runtime");
  if (log.format == "json")
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","thread":%t,"msg":"%v"})",
                        spdlog::pattern_time_type::utc);
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(log.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

HandlerPtr makeHandler(const HandlerConfig& h) {
  switch (h.kind) {
    case HandlerKind::Http:
      return std::make_shared<HttpHandler>(*h.http);
    case HandlerKind::Exec:
      return std::make_shared<ExecHandler>(*h.exec);
    case HandlerKind::Noop:
      return std::make_shared<NoopHandler>();
  }
  return nullptr;
}

Millis handlerTimeout(const HandlerConfig& h) {
  if (h.http) return h.http->timeout;
  if (h.exec) return h.exec->timeout;
  return Millis(0);
}

// Redis idempotency stores, one per redis subscription. The claim lease covers
// one handler call; the token names this member (of the consumer group, or of
// the Dapr app) across restarts.
std::function<IdStorePtr(const SubscriptionConfig&)> redisStores(const RuntimeConfig& config) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string member = config.source.kafka ? config.source.kafka->consumerGroup : config.worker;
  const std::string token = std::string(host) + "/" + member;
  return [&config, token](const SubscriptionConfig& s) -> IdStorePtr {
    RedisIdStoreOptions o;
    o.address = s.idempotency.redisAddress;
    o.keyPrefix = redisKeyPrefix(config.namespace_, config.worker, s.name);
    o.ttl = s.idempotency.ttl;
    o.lease = handlerTimeout(config.handler) + Millis(5000);
    o.maxConnections = static_cast<size_t>(s.concurrency);
    o.token = token;
    spdlog::info("subscription {}: idempotency in redis {} (keys {}*)", s.name, o.address, o.keyPrefix);
    return std::make_shared<RedisIdStore>(std::move(o));
  };
}

// The config file, parsed and checked against the mode; nullopt after one
// line on stderr saying why (exit 2).
std::optional<RuntimeConfig> loadConfig(const Args& args) {
  std::ifstream in(args.config);
  if (!in) {
    std::cerr << "eventworker-runtime: cannot read config file " << args.config << "\n";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parseConfig(text.str());
  const auto invalid = [&](const std::string& why) {
    std::cerr << "eventworker-runtime: invalid config " << args.config << ": " << why << "\n";
    return std::nullopt;
  };
  if (!parsed) return invalid(parsed.error().message);
  if (args.mode == "events" && parsed->subscriptions.empty())
    return invalid("subscriptions: required for --mode events");
  if (args.mode == "cron" && parsed->cron.empty()) return invalid("cron: required for --mode cron");
  if (args.mode == "outbox" && parsed->outbox.empty()) return invalid("outbox: required for --mode outbox");
  if (args.mode == "streams" && parsed->streams.empty()) return invalid("streams: required for --mode streams");
  return std::move(*parsed);
}

// SIGTERM/SIGINT are taken by one thread with sigwait; SIGPIPE is ignored
// (closed sockets and exec handlers that do not read stdin).
sigset_t blockStopSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sigs;
}

// The events path: the source (Kafka or Dapr), its dispatcher and the
// dead-letter producer, opened and started.
struct Events {
  std::unique_ptr<KafkaDeadLetterProducer> deadLetters;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<Source> source;
};

ew::Status openEvents(const RuntimeConfig& config, const HandlerPtr& handler, ew::MetricsRegistry& metrics, Events& e) {
  const bool kafka = config.source.kind == SourceKind::Kafka;
  bool anyDeadLetterTopic = false;
  for (const auto& s : config.subscriptions) anyDeadLetterTopic |= !s.deadLetterTopic.empty();
  // A wrong password or an untrusted certificate ends the runtime here, with
  // why, instead of librdkafka retrying it forever.
  if (kafka)
    if (auto s = probeKafkaSecurity(*config.source.kafka, kKafkaProbeTimeout); !s) return s;
  // With Dapr, daprd dead-letters what the runtime answers DROP.
  if (kafka && anyDeadLetterTopic) {
    auto p = KafkaDeadLetterProducer::create(*config.source.kafka);
    if (!p) return p.error();
    e.deadLetters = std::move(*p);
  }
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  DispatcherDeps deps;
  deps.handler = handler;
  deps.deadLetters = e.deadLetters.get();
  deps.metrics = &metrics;
  deps.idStoreFor = redisStores(config);
  deps.random = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
  e.dispatcher = std::make_unique<Dispatcher>(config, std::move(deps));
  if (kafka)
    e.source = std::make_unique<EventSource>(config, *e.dispatcher, metrics, e.deadLetters.get(),
                                             KafkaConsumer::factory(), ew::systemTime());
  else
    e.source = std::make_unique<DaprSource>(
        config, *e.dispatcher, metrics, [handler] { return handler->reachable(); }, httpAppServers(), ew::systemTime());
  if (auto s = e.source->open(); !s) return s;
  e.dispatcher->start();
  return ew::Status::success();
}

// /healthz follows the source's loop, /readyz the source and the handler (or
// the relays, which do not call the handler), /status the counts.
OpsProbes probes(const Events& e, const OutboxMode* relays, const StreamsMode* streams, const HandlerPtr& handler,
                 const std::atomic<bool>& stop) {
  return OpsProbes{[&e, streams] { return streams ? streams->alive() : !e.source || e.source->alive(); },
                   [&e, relays, streams, handler] {
                     if (relays) return relays->ready();
                     if (streams) return streams->ready();
                     return (!e.source || e.source->ready()) && handler->reachable();
                   },
                   [&e, relays, streams, &stop] {
                     return OpsStatus{stop.load() ? "stopping" : "running",
                                      e.dispatcher ? e.dispatcher->processed() : 0,
                                      e.dispatcher ? e.dispatcher->queueSize() : 0,
                                      e.source ? e.source->assignedPartitions() : 0,
                                      relays ? relays->reports() : std::vector<OutboxRelayReport>{},
                                      streams ? streams->clients() : std::vector<StreamClients>{}};
                   }};
}

// What --mode runs: the events path, the outbox relays or the SSE streams,
// each present only in its modes.
struct Modes {
  Events events;
  std::unique_ptr<OutboxMode> relays;
  std::unique_ptr<StreamsMode> streams;

  // Thread-safe: from the signal thread or the cron thread.
  void requestStop() {
    if (events.source) events.source->requestStop();
    if (relays) relays->requestStop();
    if (streams) streams->requestStop();
  }
  // Runs until stopped; returns whether the last drain ended within the grace period.
  bool run() {
    bool drained = true;
    if (events.source) drained = events.source->run();
    if (relays) relays->run();
    if (streams) drained = streams->run();
    return drained;
  }
  bool failed() const { return events.source && events.source->failed(); }
};

ew::Status openModes(const Args& args, const RuntimeConfig& config, const HandlerPtr& handler,
                     ew::MetricsRegistry& metrics, Modes& m) {
  const bool events = args.mode == "events" || args.mode == "all";
  if (events && !config.subscriptions.empty())
    if (auto s = openEvents(config, handler, metrics, m.events); !s) return s;
  if (args.mode == "outbox") {
    m.relays = std::make_unique<OutboxMode>(config, metrics, ew::systemTime());
    if (auto s = m.relays->open(); !s) return s;
  }
  if (args.mode == "streams") {
    m.streams = std::make_unique<StreamsMode>(config, metrics, ew::systemTime());
    if (auto s = m.streams->open(); !s) return s;
  }
  return ew::Status::success();
}

// SIGTERM or SIGINT (blocked in SIGS) sets STOP and stops the modes; the
// thread is detached.
void stopOnSignal(sigset_t sigs, std::atomic<bool>& stop, Modes& m) {
  std::thread([sigs, &stop, &m] {
    int sig = 0;
    sigwait(&sigs, &sig);
    spdlog::info("received {}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    stop.store(true);
    m.requestStop();
  }).detach();
}

// The cron jobs on a thread of their own (when the mode has them); a failure
// is kept in RESULT and stops the other modes.
std::thread startCron(const Args& args, const RuntimeConfig& config, const HandlerPtr& handler,
                      ew::MetricsRegistry& metrics, std::atomic<bool>& stop, Modes& m, ew::Status& result) {
  const bool cron = args.mode == "cron" || args.mode == "all";
  if (!cron || config.cron.empty()) return {};
  return std::thread([&] {
    result = runCronMode(config, handler, metrics, stop, ew::systemTime());
    if (!result) {
      spdlog::error("cron: {}", result.error().message);
      stop.store(true);
      m.requestStop();
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parseArgs(argc, argv);
  const std::optional<RuntimeConfig> loaded = loadConfig(args);
  if (!loaded) return 2;
  const RuntimeConfig& config = *loaded;
  if (args.checkConfig) {
    std::cout << "config OK: worker " << config.worker << ", " << config.subscriptions.size() << " subscription(s), "
              << config.cron.size() << " cron job(s), " << config.outbox.size() << " outbox relay(s)\n";
    return 0;
  }
  const sigset_t sigs = blockStopSignals();
  setupLogging(config.log);
  spdlog::info("eventworker-runtime {} starting: worker {}, mode {}", EW_VERSION, config.worker, args.mode);

  ew::MetricsRegistry metrics;
  HandlerPtr handler = makeHandler(config.handler);
  std::atomic<bool> stop{false};
  Modes m;
  if (auto s = openModes(args, config, handler, metrics, m); !s) {
    spdlog::error("{}", s.error().message);
    return 1;
  }
  OpsServer ops(config, metrics);
  ops.setProbes(probes(m.events, m.relays.get(), m.streams.get(), handler, stop));
  if (auto s = ops.start(); !s) {
    spdlog::error("ops server: {}", s.error().message);
    return 1;
  }
  spdlog::info("ops server on {}", config.server.address);

  stopOnSignal(sigs, stop, m);
  ew::Status cronStatus;
  std::thread cronThread = startCron(args, config, handler, metrics, stop, m, cronStatus);
  const bool drained = m.run();
  if (cronThread.joinable()) cronThread.join();
  ops.stop();
  spdlog::info("eventworker-runtime stopped{}", drained ? "" : " (grace period exceeded)");
  spdlog::shutdown();
  // Handler calls that outlived the grace period must not hold the exit up.
  std::fflush(nullptr);
  std::_Exit(cronStatus.ok() && !m.failed() ? 0 : 1);
}
