// ew-ledger-handler: the handler container of the worker pods in the
// end-to-end tests and the demo. It takes events as a Dapr app (and the
// runtime's http handler) delivers them and records each one in a Kafka
// ledger topic before it acknowledges it, so an acknowledged event is always
// in the ledger.
//
//   POST <route>   the event (a structured CloudEvent): after --delay-ms (a
//                  stand-in for real work, without holding other requests),
//                  one record to --ledger-topic (key: the event id, value:
//                  ledger_entry.h); once the broker acknowledged it, 200
//                  {"status":"SUCCESS"}; if it could not be written, 200
//                  {"status":"RETRY"}; a body without an event id, DROP.
//   GET /healthz   200.  OPTIONS (the runtime's reachability probe): 204.
//   GET /dapr/subscribe  the app's programmatic Dapr subscriptions: a JSON
//                  list of the --subscribe flags' {pubsubname, topic, route}
//                  (404 when there are none, as a declarative app answers);
//                  logged each time ("GET /dapr/subscribe: ..."), so a test
//                  can tell from the log whether daprd asked.
//
// Flags: --port (8080) --address (127.0.0.1) --delay-ms (0) --ledger-topic
// (eventworker.ledger) --kafka-bootstrap (or env LEDGER_KAFKA_BOOTSTRAP;
// required) --subscribe PUBSUB/TOPIC=/ROUTE (repeatable) --crash-at-start
// (exit 1 at once: a CrashLoopBackOff) --retry-once ROUTE (repeatable: the
// first delivery of each event to ROUTE is answered RETRY, without a ledger
// record, and its redelivery handled; the ids are kept for the process's
// life) --version.
// Env POD_NAME names the pod in each entry. Logs one line at start, one per
// GET /dapr/subscribe and one per failure, none per event. On SIGTERM or SIGINT it keeps serving (new
// connections too: the runtime beside it is draining) until no request has
// been open for 2 s, then exits 0.
//
// Exit codes: 0 stopped, 1 failure (or --crash-at-start), 2 bad usage.
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "ew/http_server.h"
#include "ew/process_exit.h"
#include "ledger_entry.h"
#include "ledger_producer.h"

#ifndef EW_VERSION
#define EW_VERSION "dev"
#endif

using namespace ew::testing;
using ew::HttpReplyFn;
using ew::HttpServerReply;
using ew::HttpServerRequest;

namespace {

constexpr std::chrono::seconds kQuietBeforeExit{2};

struct Args {
  std::string address = "127.0.0.1";
  int port = 8080;
  std::chrono::milliseconds delay{0};
  std::string ledgerTopic = "eventworker.ledger";
  std::string bootstrap;
  nlohmann::json subscriptions = nlohmann::json::array();  // GET /dapr/subscribe
  std::set<std::string> retryOnce;                         // routes
};

const char* const kUsage =
    "usage: ew-ledger-handler [--port N] [--address IP] [--delay-ms N] [--ledger-topic T]\n"
    "                         [--kafka-bootstrap HOST:PORT,...] [--subscribe PUBSUB/TOPIC=/ROUTE]...\n"
    "                         [--crash-at-start] [--retry-once ROUTE]... [--version]\n";

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "ew-ledger-handler: " << why << "\n" << kUsage;
  std::exit(2);
}

int number(const std::string& flag, const std::string& text, int max) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || v < 0 || v > max) usage(flag + " wants a whole number from 0 to " + std::to_string(max));
  return static_cast<int>(v);
}

Args parseArgs(int argc, char** argv) {
  Args a;
  if (const char* env = std::getenv("LEDGER_KAFKA_BOOTSTRAP")) a.bootstrap = env;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--crash-at-start") {
      std::cerr << "ew-ledger-handler: --crash-at-start: exiting with 1\n";
      std::exit(1);
    } else if (arg == "--version") {
      std::cout << "ew-ledger-handler " << EW_VERSION << "\n";
      std::exit(0);
    } else if (arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--port") {
      a.port = number(arg, value(), 65535);
    } else if (arg == "--address") {
      a.address = value();
    } else if (arg == "--delay-ms") {
      a.delay = std::chrono::milliseconds(number(arg, value(), 3600000));
    } else if (arg == "--ledger-topic") {
      a.ledgerTopic = value();
    } else if (arg == "--kafka-bootstrap") {
      a.bootstrap = value();
    } else if (arg == "--retry-once") {
      a.retryOnce.insert(value());
    } else if (arg == "--subscribe") {
      const std::string v = value();
      const auto slash = v.find('/'), eq = v.find('=');
      if (slash == 0 || slash == std::string::npos || eq == std::string::npos || eq < slash + 2 || eq + 2 > v.size() ||
          v[eq + 1] != '/')
        usage("--subscribe wants PUBSUB/TOPIC=/ROUTE, got " + v);
      a.subscriptions.push_back({{"pubsubname", v.substr(0, slash)},
                                 {"topic", v.substr(slash + 1, eq - slash - 1)},
                                 {"route", v.substr(eq + 1)}});
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (a.bootstrap.empty()) usage("--kafka-bootstrap (or env LEDGER_KAFKA_BOOTSTRAP) is required");
  if (a.ledgerTopic.empty()) usage("--ledger-topic must not be empty");
  return a;
}

// Runs functions after a delay on its own thread, without holding the caller.
class Delayer {
 public:
  Delayer() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~Delayer() {
    io_.stop();
    thread_.join();
  }

  // Calls F on the delayer's thread after D (at once, on the caller's thread, when D is zero).
  void after(std::chrono::milliseconds d, std::function<void()> f) {
    if (d.count() == 0) return f();
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, d);
    timer->async_wait([timer, f = std::move(f)](const boost::system::error_code& ec) {
      if (!ec) f();
    });
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

HttpServerReply status(const char* s) { return {200, std::string(R"({"status":")") + s + "\"}"}; }

class LedgerHandler {
 public:
  LedgerHandler(const Args& args, LedgerProducer& producer, Delayer& delayer)
      : delay_(args.delay),
        subscriptions_(args.subscriptions),
        retryOnce_(args.retryOnce),
        producer_(producer),
        delayer_(delayer) {
    if (const char* pod = std::getenv("POD_NAME")) pod_ = pod;
  }

  // The HTTP server's handler: runs on its I/O threads, never blocks.
  void operator()(HttpServerRequest&& r, HttpReplyFn reply) {
    const std::string path = r.target.substr(0, r.target.find('?'));
    if (r.method == "GET" && path == "/healthz") return reply({200, "ok", "text/plain"});
    if (r.method == "OPTIONS") return reply({204, "", ""});
    if (r.method == "GET" && path == "/dapr/subscribe") {
      spdlog::info("GET /dapr/subscribe: answered {} subscription(s)", subscriptions_.size());
      if (subscriptions_.empty()) return reply({404, "", ""});
      return reply({200, subscriptions_.dump()});
    }
    if (r.method != "POST") return reply({404, "", ""});
    auto entry = ledgerEntry(path, r.body, r.headers, pod_);
    if (!entry) {
      spdlog::warn("POST {}: dropped: {}", path, entry.error().message);
      return reply(status("DROP"));
    }
    if (retryOnce_.count(path) && firstDelivery(entry->eventId)) return reply(status("RETRY"));
    delayer_.after(delay_, [this, entry = std::move(*entry), reply = std::move(reply)]() mutable {
      const std::string key = entry.eventId;
      producer_.produce(key, entry.json, [id = std::move(entry.eventId), reply = std::move(reply)](ew::Status s) {
        if (!s) spdlog::warn("event {}: answered RETRY: {}", id, s.error().message);
        reply(status(s ? "SUCCESS" : "RETRY"));
      });
    });
  }

 private:
  bool firstDelivery(const std::string& id) {
    std::lock_guard lock(retriedMu_);
    return retried_.insert(id).second;
  }

  const std::chrono::milliseconds delay_;
  const nlohmann::json subscriptions_;
  const std::set<std::string> retryOnce_;
  std::mutex retriedMu_;
  std::set<std::string> retried_;  // event ids answered RETRY once
  LedgerProducer& producer_;
  Delayer& delayer_;
  std::string pod_;
};

void setupLogging() {
  auto logger = spdlog::stderr_logger_mt("ledger-handler");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parseArgs(argc, argv);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before any thread starts: they inherit it
  signal(SIGPIPE, SIG_IGN);
  setupLogging();

  auto producer = LedgerProducer::create({args.bootstrap, args.ledgerTopic});
  if (!producer) {
    spdlog::error("{}", producer.error().message);
    return 1;
  }
  int rc = 0;
  {
    Delayer delayer;
    LedgerHandler handler(args, **producer, delayer);
    ew::HttpServer server({args.address, args.port}, std::ref(handler));
    if (auto s = server.start(); !s) {
      spdlog::error("{}", s.error().message);
      rc = 1;
    } else {
      spdlog::info("ew-ledger-handler {} on {}:{}: ledger topic {} at {}, delay {} ms", EW_VERSION, args.address,
                   server.port(), args.ledgerTopic, args.bootstrap, args.delay.count());
      int sig = 0;
      sigwait(&sigs, &sig);
      spdlog::info("signal {}: stopping once no request has been open for {} s", sig, kQuietBeforeExit.count());
      auto quietSince = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - quietSince < kQuietBeforeExit) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (server.pending() > 0) quietSince = std::chrono::steady_clock::now();
      }
      server.stop();
    }
  }
  producer->reset();
  spdlog::default_logger()->flush();
  ew::exitProcess(rc);
}
