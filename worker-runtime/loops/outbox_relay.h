#pragma once
// One outbox relay (--mode outbox): a PostgreSQL outbox table -> Kafka, one
// thread, its own database session.
//
// States: Connecting (no session; retried with backoff) -> Standby (session
// up, another relay holds the table's lock; tried again every lockRetry) ->
// Active (holds the lock: reads a batch in id order, publishes it, waits for
// every delivery report, settles it: core/outbox_batch.h). Active, an empty
// read waits for a NOTIFY on the channel or pollInterval, whichever comes
// first; a batch with rows held back (a transient failure: broker down) is
// retried after an exponential backoff (200 ms .. 10 s); any session error
// drops the session, and with it the lock, so a standby takes over.
//
// Why an advisory lock and not a Lease: the lock is held by the very session
// that reads and marks the rows, so a relay that lost it (process killed,
// network cut, database restarted) has lost the session too and can mark
// nothing: fencing comes free, the runtime needs no Kubernetes API access,
// and takeover waits only for PostgreSQL to see the session end (at once on
// a killed process; tcp keepalives of ~30 s on a silent network cut).
//
// Thread-safety: run() on one thread; requestStop(), state() and the probes
// from any.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "core/config.h"
#include "core/outbox_io.h"
#include "ew/metrics.h"
#include "ew/time_source.h"

namespace ew::runtime {

enum class RelayState { Connecting, Standby, Active };
const char* toString(RelayState s);

struct OutboxRelayOptions {
  std::string worker;
  std::string source;  // the CloudEvent source of every row ("<namespace>/<worker>/outbox/<table>")
  OutboxConfig config;
  Millis lockRetry{1000};
  Millis backoffInitial{200};
  Millis backoffMax{10'000};
  Millis backlogInterval{5000};  // how often pending rows and their oldest age are counted
};

class OutboxRelay {
 public:
  OutboxRelay(OutboxRelayOptions options, OutboxStorePtr store, OutboxPublisher& publisher, MetricsRegistry& metrics,
              const TimeSource& time);

  // Steps until requestStop(); the batch in flight is published and settled
  // first. Then drops the session (the lock goes to a standby).
  void run();
  void requestStop();

  // One step: connect, lock, or one batch. Returns how long to wait before
  // the next (0: at once). run() waits for a NOTIFY in that time when Active.
  Millis step();

  RelayState state() const { return state_.load(); }
  bool connected() const { return state_.load() != RelayState::Connecting; }

 private:
  Millis failed(const std::string& what, const Error& e);  // drops the session, returns the backoff
  Millis nextBackoff();
  void updateBacklog(bool force);
  void wait(Millis d);

  const OutboxRelayOptions o_;
  OutboxStorePtr store_;
  OutboxPublisher& publisher_;
  const TimeSource& time_;
  std::atomic<RelayState> state_{RelayState::Connecting};
  bool sessionUp_ = false;
  Millis backoff_{0};
  MonoTime nextBacklog_{};

  Counter& published_;
  Counter& refused_;
  Gauge& pending_;
  Gauge& lag_;
  Gauge& active_;
  Histogram& latency_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
};

}  // namespace ew::runtime
