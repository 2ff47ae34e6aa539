#include "loops/dispatcher.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <set>

#include "loops/dispatch_work.h"

namespace ew::runtime {

namespace {

// Admission budget per subscription: its topic is paused when either bound is
// reached and resumed below half of both. A pause drops what librdkafka
// prefetched for the topic's partitions and costs a refetch on resume, so the
// event bound must be worth more than a moment of work. For a handler that
// never waits (noop) admitted work drains in microseconds: a large fixed
// bound. For one that waits, AdmissionBudget sizes it to the work the calls
// finish in kDrain at their observed duration (at least 64 per call in
// flight): pauses stay rare, and what is admitted still finishes in about
// kDrain on SIGTERM (never more than half the grace period). The byte bound
// keeps memory bounded for large events.
constexpr size_t kAdmitEventsCeiling = 65536;
constexpr Millis kDrain{1000};

AdmissionBudget admissionBudget(const SubscriptionConfig& c, const Handler& h, Millis gracePeriod) {
  if (!h.blocks()) return AdmissionBudget(kAdmitEventsCeiling, kAdmitEventsCeiling, 1, kDrain);
  const size_t floor = std::clamp<size_t>(size_t(c.concurrency) * 64, 512, 8192);
  return AdmissionBudget(floor, kAdmitEventsCeiling, static_cast<size_t>(c.concurrency),
                         std::min(kDrain, gracePeriod / 2));
}
constexpr size_t kAdmitBytes = 64 << 20;

// Worker threads of a subscription: one per handler call in flight, but no
// more than the CPUs for a handler that never waits.
size_t workerCount(const SubscriptionConfig& c, const Handler& h) {
  const size_t n = static_cast<size_t>(c.concurrency);
  return h.blocks() ? n : std::min<size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
}

// Finished records kept for reuse, and the largest event (key, value,
// headers) whose record is kept: bounds what they hold to about 5 MB.
constexpr size_t kSpareWork = 1024;
constexpr size_t kSpareWorkBytes = 4096;

size_t sizeOf(const Message& m) {
  size_t n = m.value.size() + (m.key ? m.key->size() : 0);
  for (const auto& [k, v] : m.headers) n += k.size() + v.size();
  return n;
}

}  // namespace

Dispatcher::Sub::Sub(const SubscriptionConfig& c, const Handler& handler, Millis gracePeriod, const std::string& worker,
                     const std::string& source, Uniform01 random, MetricsRegistry& m)
    : config(c),
      admission(admissionBudget(c, handler, gracePeriod)),
      lanes(admission.events()),
      retry(c.retry, std::move(random)),
      envelope{c.maxEventBytes, c.requireCloudEvent, source, c.name} {
  const Labels l{{"worker", worker}, {"subscription", c.name}};
  auto with = [&](const char* k, const char* v) {
    Labels x = l;
    x[k] = v;
    return x;
  };
  const char* jobsHelp = "Events handled, by final status";
  done = &m.counter("worker_jobs_total", jobsHelp, with("status", "success"));
  duplicate = &m.counter("worker_jobs_total", jobsHelp, with("status", "duplicate"));
  deadLettered = &m.counter("worker_jobs_total", jobsHelp, with("status", "dead_letter"));
  errors = &m.counter("worker_errors_total",
                      "Handler calls that failed (retry or reject) and idempotency store failures", l);
  storeErrors = &m.counter("worker_idempotency_store_errors_total",
                           "Idempotency store calls that failed (the event was handled anyway)", l);
  retries = &m.counter("worker_retries_total", "Handler calls scheduled again after a failure", l);
  malformed = &m.counter("worker_dead_letters_total", "Events sent to the dead-letter topic, by reason",
                         with("reason", "malformed"));
  exhausted = &m.counter("worker_dead_letters_total", "Events sent to the dead-letter topic, by reason",
                         with("reason", "exhausted"));
  rejected = &m.counter("worker_dead_letters_total", "Events sent to the dead-letter topic, by reason",
                        with("reason", "rejected"));
  duration = &m.histogram("worker_job_duration_seconds", "Handler call duration", l);
  queue = &m.gauge("worker_queue_size", "Events admitted and not finished (running, waiting, backing off)", l);
}

namespace {

LaneKey laneFor(Ordering ordering, const Message& m) {
  if (ordering == Ordering::None || (ordering == Ordering::Key && !m.key)) return std::nullopt;
  // Lanes belong to one subscription, so to one topic: partition and key
  // suffice (and usually fit the small-string buffer).
  std::string lane = std::to_string(m.tp.partition);
  if (ordering == Ordering::Key) {
    lane += '\0';
    lane += *m.key;
  }
  return lane;
}

}  // namespace

const char* toString(DeliveryOutcome o) {
  switch (o) {
    case DeliveryOutcome::Handled:
      return "handled";
    case DeliveryOutcome::Duplicate:
      return "duplicate";
    case DeliveryOutcome::GivenUp:
      return "given up";
    case DeliveryOutcome::Abandoned:
      return "abandoned";
  }
  return "?";
}

Dispatcher::Dispatcher(const RuntimeConfig& config, DispatcherDeps deps) : config_(config), deps_(std::move(deps)) {
  const std::string source = config_.service.empty() ? config_.worker : config_.service;
  for (const auto& sc : config_.subscriptions) {
    auto sub = std::make_unique<Sub>(sc, *deps_.handler, config_.server.gracePeriod, config_.worker, source,
                                     deps_.random, *deps_.metrics);
    if (sc.idempotency.kind == IdempotencyKind::Memory)
      sub->store = std::make_shared<MemoryIdStore>(static_cast<size_t>(sc.idempotency.capacity), sc.idempotency.ttl,
                                                   [time = deps_.time] { return time->now(); });
    else if (sc.idempotency.kind == IdempotencyKind::Redis && deps_.idStoreFor)
      sub->store = deps_.idStoreFor(sc);
    byTopic_[sc.topic] = sub.get();
    subs_.push_back(std::move(sub));
  }
}

Dispatcher::~Dispatcher() {
  stop();
  for (auto& t : workers_) t.join();
}

void Dispatcher::start() {
  for (auto& sub : subs_)
    for (size_t i = 0; i < workerCount(sub->config, *deps_.handler); ++i)
      workers_.emplace_back([this, s = sub.get()] { workerLoop(*s); });
}

Dispatcher::Sub* Dispatcher::subFor(const std::string& topic) const {
  auto it = byTopic_.find(topic);
  return it == byTopic_.end() ? nullptr : it->second;
}

void Dispatcher::assign(const std::vector<TopicPartition>& parts) {
  std::lock_guard l(mu_);
  for (const auto& tp : parts) {
    tracker_.assign(tp);
    generation_[tp] = nextGeneration_++;
  }
}

std::vector<CommitPoint> Dispatcher::revoke(const std::vector<TopicPartition>& parts, Clock::time_point deadline) {
  std::unique_lock l(mu_);
  const std::set<TopicPartition> gone(parts.begin(), parts.end());
  // Queued work at or below the highest finished offset fills the gaps below
  // it: kept (until DEADLINE), so that the commit point reaches everything
  // finished. Work backing off for a retry is not waited for.
  std::map<TopicPartition, int64_t> fillThrough;
  for (const auto& tp : gone)
    if (auto h = tracker_.highestDone(tp)) fillThrough[tp] = *h;
  auto isGone = [&](const WorkPtr& w) { return gone.count(w->message.tp) != 0; };
  auto beyondGaps = [&](const WorkPtr& w) {
    if (!isGone(w)) return false;
    const auto f = fillThrough.find(w->message.tp);
    return w->onDone || f == fillThrough.end() || w->message.offset > f->second;
  };
  size_t abandoned = dropQueuedLocked(beyondGaps, /*delayedToo=*/false) + dropDelayedLocked(isGone);
  auto busy = [&] {
    for (const auto& tp : gone) {
      if (running_.count(tp)) return true;
      if (const auto f = fillThrough.find(tp); f != fillThrough.end()) {
        const auto p = tracker_.committable(tp);
        if (!p || p->offset <= f->second) return true;  // a gap is still open
      }
    }
    return false;
  };
  ++drainWaiters_;
  const bool finished = deps_.time->wait(idle_, l, deadline, [&] { return !busy(); });
  --drainWaiters_;
  // What did not fill in time, or came back for a retry meanwhile, stays for the next owner.
  abandoned += dropQueuedLocked(isGone, /*delayedToo=*/true);
  std::vector<CommitPoint> points;
  for (const auto& tp : gone) {
    if (auto p = tracker_.committable(tp)) points.push_back(*p);
    tracker_.revoke(tp);
    generation_.erase(tp);
  }
  if (abandoned || !finished)
    spdlog::info("dispatch: revoked {} partition(s); {} queued event(s) left for the next owner{}", gone.size(),
                 abandoned, finished ? "" : "; running or gap-filling handler calls did not finish in time");
  return points;
}

size_t Dispatcher::dropQueuedLocked(const DropPred& drop, bool delayedToo) {
  size_t dropped = 0;
  for (auto& sub : subs_) {
    Sub& s = *sub;
    std::vector<WorkPtr> runnable;
    for (const WorkPtr& w : s.lanes.dropWaiting(drop)) {
      s.admittedBytes -= w->bytes;
      ++dropped;
    }
    // Runnable work holds its lane.
    dropped += dropFromLocked(
        s, s.ready, [](WorkPtr& w) -> WorkPtr& { return w; }, drop, runnable);
    if (delayedToo) dropped += dropDelayedLocked(s, drop, runnable);
    requeueLocked(s, runnable);
  }
  return dropped;
}

size_t Dispatcher::dropDelayedLocked(const DropPred& drop) {
  size_t dropped = 0;
  for (auto& sub : subs_) {
    std::vector<WorkPtr> runnable;
    dropped += dropDelayedLocked(*sub, drop, runnable);
    requeueLocked(*sub, runnable);
  }
  return dropped;
}

size_t Dispatcher::dropDelayedLocked(Sub& s, const DropPred& drop, std::vector<WorkPtr>& runnable) {
  // Backing-off work holds its lane too.
  return dropFromLocked(
      s, s.delayed, [](auto& entry) -> WorkPtr& { return entry.second; }, drop, runnable);
}

template <typename Container, typename WorkOf>
size_t Dispatcher::dropFromLocked(Sub& s, Container& queue, WorkOf workOf, const DropPred& drop,
                                  std::vector<WorkPtr>& runnable) {
  size_t dropped = 0;
  for (auto it = queue.begin(); it != queue.end();) {
    const WorkPtr& w = workOf(*it);
    if (!drop(w)) {
      ++it;
      continue;
    }
    const LaneKey lane = w->lane;
    s.admittedBytes -= w->bytes;
    it = queue.erase(it);
    ++dropped;
    releaseLaneLocked(s, lane, drop, dropped, runnable);
  }
  return dropped;
}

void Dispatcher::releaseLaneLocked(Sub& s, const LaneKey& lane, const DropPred& drop, size_t& dropped,
                                   std::vector<WorkPtr>& runnable) {
  for (auto next = s.lanes.finish(lane); next; next = s.lanes.finish(lane)) {
    if (!drop(*next)) {
      runnable.push_back(std::move(*next));
      return;
    }
    s.admittedBytes -= (*next)->bytes;
    ++dropped;
  }
}

void Dispatcher::requeueLocked(Sub& s, std::vector<WorkPtr>& runnable) {
  if (runnable.empty()) return;
  for (auto& w : runnable) s.ready.push_back(std::move(w));
  runnable.clear();
  wakeLocked(s);
}

void Dispatcher::submit(std::vector<Message> batch) {
  std::lock_guard l(mu_);
  for (auto& message : batch) {
    Sub* s = subFor(message.tp.topic);
    auto gen = generation_.find(message.tp);
    if (!s || gen == generation_.end()) continue;
    tracker_.track(message.tp, message.offset);
    WorkPtr w = reusedWork();
    w->lane = laneFor(s->config.ordering, message);
    w->generation = gen->second;
    admitLocked(*s, std::move(w), std::move(message));
  }
}

void Dispatcher::admitLocked(Sub& s, WorkPtr w, Message&& message) {
  w->bytes = sizeOf(message);
  s.admittedBytes += w->bytes;
  w->message = std::move(message);
  const LaneKey lane = w->lane;
  if (auto runnable = s.lanes.admit(lane, std::move(w))) {
    s.ready.push_back(std::move(*runnable));
    wakeLocked(s);
  }
}

Dispatcher::WorkPtr Dispatcher::reusedWork() {
  if (spareWork_.empty()) return std::make_unique<Work>();
  WorkPtr w = std::move(spareWork_.back());
  spareWork_.pop_back();
  // Its old contents are freed here, on a source's thread (the Kafka poll
  // thread allocated them; a Dapr delivery thread may have).
  std::destroy_at(w.get());
  std::construct_at(w.get());
  return w;
}

void Dispatcher::deliver(std::vector<Delivery> batch) {
  std::vector<std::function<void(DeliveryOutcome)>> unknown;
  {
    std::lock_guard l(mu_);
    for (auto& d : batch) {
      Sub* s = subFor(d.message.tp.topic);
      if (!s) {
        unknown.push_back(std::move(d.onDone));
        continue;
      }
      WorkPtr w = reusedWork();
      // A malformed event has no trustworthy key: it holds up no lane.
      w->lane = d.malformed.empty() ? laneFor(s->config.ordering, d.message) : std::nullopt;
      w->malformed = std::move(d.malformed);
      w->onDone = std::move(d.onDone);
      admitLocked(*s, std::move(w), std::move(d.message));
    }
  }
  for (auto& done : unknown)
    if (done) done(DeliveryOutcome::Abandoned);
}

void Dispatcher::wakeLocked(Sub& s) {
  // Wake a sleeping worker only when there is more runnable work than wake-ups
  // already on their way: a context switch per record costs more than the work.
  if (s.sleeping > s.waking && s.ready.size() > s.waking) {
    ++s.waking;
    s.wake.notify_one();
  }
}

bool Dispatcher::full(const std::string& topic) const {
  std::lock_guard l(mu_);
  Sub* s = subFor(topic);
  return s && (s->lanes.full() || s->admittedBytes >= kAdmitBytes);
}

bool Dispatcher::resumable(const std::string& topic) const {
  std::lock_guard l(mu_);
  Sub* s = subFor(topic);
  return !s || (s->lanes.admitted() <= s->lanes.budget() / 2 && s->admittedBytes <= kAdmitBytes / 2);
}

std::vector<CommitPoint> Dispatcher::takeCommittable() const {
  std::lock_guard l(mu_);
  for (const auto& s : subs_) s->queue->set(static_cast<double>(s->lanes.admitted()));
  return tracker_.committable();
}

void Dispatcher::markCommitted(const std::vector<CommitPoint>& points) {
  std::lock_guard l(mu_);
  for (const auto& p : points) tracker_.markCommitted(p);
}

bool Dispatcher::drain(Clock::time_point deadline) {
  std::unique_lock l(mu_);
  ++drainWaiters_;
  const bool drained = deps_.time->wait(idle_, l, deadline, [&] {
    for (const auto& s : subs_)
      if (s->lanes.admitted() != 0) return false;
    return true;
  });
  --drainWaiters_;
  return drained;
}

void Dispatcher::stop() {
  std::lock_guard l(mu_);
  stopping_.store(true);
  for (auto& s : subs_) s->wake.notify_all();
  idle_.notify_all();
}

size_t Dispatcher::queueSize() const {
  std::lock_guard l(mu_);
  size_t n = 0;
  for (const auto& s : subs_) {
    s->queue->set(static_cast<double>(s->lanes.admitted()));
    n += s->lanes.admitted();
  }
  return n;
}

size_t Dispatcher::backingOff() const {
  std::lock_guard l(mu_);
  size_t n = 0;
  for (const auto& s : subs_) n += s->delayed.size();
  return n;
}

uint64_t Dispatcher::processed() const {
  std::lock_guard l(mu_);
  return processed_;
}

void Dispatcher::workerLoop(Sub& s) {
  const size_t workers = workerCount(s.config, *deps_.handler);
  std::vector<WorkPtr> batch;
  std::vector<Verdict> verdicts;
  Completions completions;
  std::unique_lock l(mu_);
  for (;;) {
    if (stopping_) return;
    releaseDueLocked(s);
    if (s.ready.empty()) {
      sleepLocked(s, l);
      continue;
    }
    takeBatchLocked(s, workers, batch);
    l.unlock();
    // Once stopping, what this worker took and has not started stays uncommitted.
    for (auto& w : batch) verdicts.push_back(stopping_ ? Verdict::Abandon : process(s, *w));
    l.lock();
    for (size_t i = 0; i < batch.size(); ++i) settleLocked(s, std::move(batch[i]), verdicts[i], completions);
    s.lanes.setBudget(s.admission.events());
    batch.clear();
    verdicts.clear();
    if (drainWaiters_) idle_.notify_all();
    if (!completions.empty()) {
      l.unlock();
      for (auto& [done, outcome] : completions) done(outcome);
      completions.clear();
      l.lock();
    }
  }
}

void Dispatcher::releaseDueLocked(Sub& s) {
  const auto now = deps_.time->now();
  while (!s.delayed.empty() && s.delayed.begin()->first <= now) {
    s.ready.push_back(std::move(s.delayed.begin()->second));
    s.delayed.erase(s.delayed.begin());
  }
}

void Dispatcher::sleepLocked(Sub& s, std::unique_lock<std::mutex>& l) {
  ++s.sleeping;
  if (s.delayed.empty()) {
    s.wake.wait(l);
  } else {
    // A copy: waitUntil reads its deadline again after waking, and
    // another worker may have taken (erased) that entry meanwhile.
    const Clock::time_point due = s.delayed.begin()->first;
    deps_.time->waitUntil(s.wake, l, due);
  }
  --s.sleeping;
  if (s.waking) --s.waking;
}

void Dispatcher::takeBatchLocked(Sub& s, size_t workers, std::vector<WorkPtr>& batch) {
  // Take a fair share of the runnable work: one item when little is queued
  // (slow handlers stay parallel), more when much is (cheap handlers batch).
  const size_t take = std::min<size_t>(64, (s.ready.size() + workers - 1) / workers);
  for (size_t i = 0; i < take; ++i) {
    batch.push_back(std::move(s.ready.front()));
    s.ready.pop_front();
    ++running_[batch.back()->message.tp];
  }
  if (!s.ready.empty()) wakeLocked(s);
}

void Dispatcher::settleLocked(Sub& s, WorkPtr w, Verdict verdict, Completions& completions) {
  if (w->call.count()) {
    s.admission.observe(w->call);
    w->call = std::chrono::nanoseconds(0);
  }
  const TopicPartition& tp = w->message.tp;
  if (auto r = running_.find(tp); --r->second == 0) running_.erase(r);
  // A delivery belongs to no assignment; a record only to the one it was consumed in.
  const auto gen = generation_.find(tp);
  const bool current = w->onDone || (gen != generation_.end() && gen->second == w->generation);
  if (verdict == Verdict::Retry && current && !stopping_) {
    const Millis delay = w->delayOverride ? *w->delayOverride : s.retry.delayAfter(w->attempts);
    w->delayOverride.reset();
    s.delayed.emplace(deps_.time->now() + delay, std::move(w));
    s.wake.notify_one();  // a sleeping worker may need an earlier wake-up
  } else {
    finishLocked(s, std::move(w), verdict == Verdict::Done && current, completions);
  }
}

void Dispatcher::finishLocked(Sub& s, WorkPtr w, bool done, Completions& completions) {
  if (done) {
    if (!w->onDone) tracker_.markDone(w->message.tp, w->message.offset);
    ++processed_;
  }
  if (w->onDone) completions.emplace_back(std::move(w->onDone), done ? w->outcome : DeliveryOutcome::Abandoned);
  s.admittedBytes -= w->bytes;
  if (auto next = s.lanes.finish(w->lane)) {
    s.ready.push_back(std::move(*next));
    wakeLocked(s);
  }
  // Small finished records are kept for submit() to reuse (see spareWork_).
  if (w->bytes <= kSpareWorkBytes && spareWork_.size() < kSpareWork) spareWork_.push_back(std::move(w));
}

}  // namespace ew::runtime
