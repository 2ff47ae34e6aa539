#include "ledger_producer.h"

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <utility>

#include "ew/process_exit.h"

namespace ew::testing {
namespace {

struct ConfDelete {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDelete>;
using DonePtr = std::unique_ptr<LedgerProducer::Done>;

// Runs on the poll thread; the record's opaque is its Done, owned from here.
void onDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  DonePtr done(static_cast<LedgerProducer::Done*>(m->_private));
  if (m->err)
    (*done)(Error{std::string("ledger record to ") + rd_kafka_topic_name(m->rkt) + ": " + rd_kafka_err2str(m->err),
                  static_cast<int>(m->err)});
  else
    (*done)(Status{});
}

// Only the fatal error: librdkafka logs the others (onLog), and retries them.
void onError(rd_kafka_t* rk, int err, const char*, void*) {
  if (err != RD_KAFKA_RESP_ERR__FATAL) return;
  char why[512];
  rd_kafka_fatal_error(rk, why, sizeof why);
  spdlog::critical("ledger producer: fatal error, exiting: {}", why);
  exitProcess(1);
}

void onLog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  spdlog::log(level <= 3   ? spdlog::level::err
              : level == 4 ? spdlog::level::warn
                           : spdlog::level::info,
              "ledger producer: {}: {}", facility, message);
}

}  // namespace

Result<LedgerProducerPtr> LedgerProducer::create(const LedgerProducerOptions& o) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : std::initializer_list<std::pair<const char*, std::string>>{
           {"bootstrap.servers", o.bootstrap},
           {"client.id", "ew-ledger-handler"},
           {"acks", "all"},
           {"enable.idempotence", "true"},
           {"linger.ms", "2"},
           {"message.timeout.ms", std::to_string(o.messageTimeout.count())},
           {"log.connection.close", "false"}})
    if (rd_kafka_conf_set(conf.get(), k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      return Error{std::string("ledger producer: ") + k + "=" + v + ": " + err};
  rd_kafka_conf_set_dr_msg_cb(conf.get(), onDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), onError);
  rd_kafka_conf_set_log_cb(conf.get(), onLog);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) return Error{std::string("ledger producer: ") + err};
  conf.release();  // rd_kafka_new owns it now
  return LedgerProducerPtr(new LedgerProducer(o, rk));
}

LedgerProducer::LedgerProducer(LedgerProducerOptions options, rd_kafka_t* rk)
    : options_(std::move(options)), rk_(rk), poller_([this] { pollLoop(); }) {}

LedgerProducer::~LedgerProducer() {
  rd_kafka_flush(rk_.get(), static_cast<int>(options_.messageTimeout.count()));
  stop_ = true;
  poller_.join();
}

void LedgerProducer::pollLoop() {
  while (!stop_) rd_kafka_poll(rk_.get(), 100);
}

void LedgerProducer::produce(const std::string& key, const std::string& value, Done done) {
  auto owned = std::make_unique<Done>(std::move(done));
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(rk_.get(), RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(owned.get()), RD_KAFKA_V_END);
  if (err) {
    (*owned)(
        Error{"ledger record to " + options_.topic + ": not queued: " + rd_kafka_err2str(err), static_cast<int>(err)});
    return;
  }
  owned.release();  // onDelivery owns it now
}

}  // namespace ew::testing
