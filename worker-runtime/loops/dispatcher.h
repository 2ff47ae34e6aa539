#pragma once
// Dispatch of consumed records to the handler: bounded in-flight work per
// subscription (`concurrency` handler calls at once, a budget of admitted
// records, sized to about a second of handler work, and of bytes for
// backpressure), ordered per key or partition, retries
// with backoff that never block other keys, dead letters, idempotency, and the
// offset bookkeeping that lets the source commit only what is done.
//
// Thread-safety: every public method is thread-safe. submit/assign/revoke/
// takeCommittable are called by the source's poll thread; worker threads are
// owned here.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/dead_letter.h"
#include "core/handler.h"
#include "core/id_store.h"
#include "core/key_lanes.h"
#include "core/offset_tracker.h"
#include "core/retry_schedule.h"
#include "ew/metrics.h"
#include "ew/time_source.h"

namespace ew::runtime {

struct DispatcherDeps {
  HandlerPtr handler;
  DeadLetterSink* deadLetters = nullptr;  // may be null when no subscription has a deadLetterTopic
  // The store of a subscription with idempotency.kind redis (memory stores are
  // made here). Null, or returning null: that subscription is not de-duplicated.
  std::function<IdStorePtr(const SubscriptionConfig&)> idStoreFor;
  MetricsRegistry* metrics = nullptr;
  Uniform01 random;                        // for backoff jitter; called under a lock
  const TimeSource* time = &systemTime();  // back-off due times, deadlines, call durations
};

// How an event handed over with Dispatcher::deliver() ended.
enum class DeliveryOutcome {
  Handled,    // the handler took it
  Duplicate,  // idempotency: handled before, skipped
  GivenUp,    // malformed, rejected, or retries used up: the sender dead-letters it
  Abandoned,  // the dispatcher stopped before it finished: the sender should redeliver it
};
const char* toString(DeliveryOutcome o);

// An event whose sender waits for its outcome (the Dapr source answers daprd
// with it) instead of committing offsets: it is not offset-tracked and needs
// no assignment. message.tp.topic selects the subscription.
struct Delivery {
  Message message;
  std::string malformed;  // non-empty: the sender found it malformed; it is given up at once with this reason
  // Called once when the event leaves the dispatcher, from a worker thread
  // with no dispatcher lock held (or from deliver() for an unknown topic).
  // Not called for work still queued when the dispatcher is destroyed.
  std::function<void(DeliveryOutcome)> onDone;
};

class Dispatcher {
 public:
  using Clock = std::chrono::steady_clock;

  Dispatcher(const RuntimeConfig& config, DispatcherDeps deps);
  ~Dispatcher();  // stops workers (abandoning queued work)

  void start();

  // Partitions joined this member; their records may now be submitted.
  void assign(const std::vector<TopicPartition>& parts);
  // Partitions leave. Running work, and queued work at or below a
  // partition's highest finished offset (the gaps that hold its commit point
  // back), get until DEADLINE to finish; the rest of the queued work is
  // abandoned to the next owner. Returns their commit points (what is done):
  // when the gaps fill in time, everything finished here is committed and
  // the next owner repeats none of it.
  std::vector<CommitPoint> revoke(const std::vector<TopicPartition>& parts, Clock::time_point deadline);

  // Hands records over (one lock for the batch). Records of partitions that
  // are not assigned are ignored (never tracked, so never committed).
  void submit(std::vector<Message> batch);
  // Hands over events that are not offset-tracked (one lock for the batch);
  // each one's onDone reports how it ended. Same lanes, retries, idempotency
  // and metrics as submit().
  void deliver(std::vector<Delivery> batch);

  // True when the subscription of TOPIC has used its admission budget of
  // events or bytes (pause it); resumable when below half of both again.
  bool full(const std::string& topic) const;
  bool resumable(const std::string& topic) const;

  std::vector<CommitPoint> takeCommittable() const;
  void markCommitted(const std::vector<CommitPoint>& points);

  // Waits until nothing is admitted or DEADLINE. True when all work finished.
  bool drain(Clock::time_point deadline);
  // Stops handing out work; workers exit once their current call returns.
  void stop();

  size_t queueSize() const;   // admitted, not finished (all subscriptions); also updates worker_queue_size
  size_t backingOff() const;  // waiting for a retry's due time (all subscriptions)
  uint64_t processed() const;

 private:
  struct Work;
  using WorkPtr = std::unique_ptr<Work>;
  struct Sub;
  enum class Verdict { Done, Retry, Abandon };

  void workerLoop(Sub& sub);
  Verdict process(Sub& sub, Work& w);
  Verdict deadLetter(Sub& sub, Work& w, DeadLetterReason reason, const std::string& error);
  void storeFailed(Sub& sub, const char* operation, const Error& error);
  using Completions = std::vector<std::pair<std::function<void(DeliveryOutcome)>, DeliveryOutcome>>;
  void finishLocked(Sub& sub, WorkPtr w, bool done, Completions& completions);
  // The steps of workerLoop(), under mu_ (L holds it): delayed work that is
  // due becomes runnable; sleep until woken or the next retry is due; take a
  // fair share of the runnable work into BATCH; settle one processed item
  // (retry later, or finish).
  void releaseDueLocked(Sub& sub);
  void sleepLocked(Sub& sub, std::unique_lock<std::mutex>& l);
  void takeBatchLocked(Sub& sub, size_t workers, std::vector<WorkPtr>& batch);
  void settleLocked(Sub& sub, WorkPtr w, Verdict verdict, Completions& completions);
  // Queued work that DROP selects leaves (abandoned: never finished, so never
  // committed): waiting and runnable work, and with delayedToo the work
  // backing off for a retry. A lane freed this way runs its next item unless
  // DROP selects that one too. Return how many left. REQUIRES: mu_ held.
  using DropPred = std::function<bool(const WorkPtr&)>;
  size_t dropQueuedLocked(const DropPred& drop, bool delayedToo);
  size_t dropDelayedLocked(const DropPred& drop);
  size_t dropDelayedLocked(Sub& s, const DropPred& drop, std::vector<WorkPtr>& runnable);
  // Drops the work of QUEUE (ready or delayed; WORKOF finds an entry's work)
  // that DROP selects, releasing the lanes it held.
  template <typename Container, typename WorkOf>
  size_t dropFromLocked(Sub& s, Container& queue, WorkOf workOf, const DropPred& drop, std::vector<WorkPtr>& runnable);
  void releaseLaneLocked(Sub& s, const LaneKey& lane, const DropPred& drop, size_t& dropped,
                         std::vector<WorkPtr>& runnable);
  void requeueLocked(Sub& s, std::vector<WorkPtr>& runnable);
  void wakeLocked(Sub& sub);
  Sub* subFor(const std::string& topic) const;
  // A record from spareWork_, emptied, or a new one. Called under mu_.
  WorkPtr reusedWork();
  // Admits W (lane and kind already set) with MESSAGE to its lane: runnable at
  // once when the lane is free.
  void admitLocked(Sub& s, WorkPtr w, Message&& message);

  const RuntimeConfig config_;
  DispatcherDeps deps_;
  mutable std::mutex mu_;         // guards everything below and every Sub's queues
  std::condition_variable idle_;  // signalled when work finishes
  OffsetTracker tracker_;
  std::map<TopicPartition, uint64_t> generation_;  // current assignment generation per partition
  std::map<TopicPartition, int> running_;          // handler calls in progress per partition
  uint64_t nextGeneration_ = 1;
  uint64_t processed_ = 0;
  int drainWaiters_ = 0;  // threads in revoke()/drain() waiting on idle_
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<Sub>> subs_;
  std::map<std::string, Sub*> byTopic_;
  std::vector<std::thread> workers_;
  // Finished records of small events, for submit() and deliver() to reuse
  // (guarded by mu_): a record made on the poll thread and freed on a worker
  // thread took glibc's slow cross-thread path for it and every string it held.
  std::vector<WorkPtr> spareWork_;
};

}  // namespace ew::runtime
