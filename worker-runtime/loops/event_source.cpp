#include "loops/event_source.h"

#include <spdlog/spdlog.h>

#include "clients/kafka_security.h"

namespace ew::runtime {
namespace {

int64_t msSinceEpoch(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Records taken from librdkafka per poll (one dispatcher lock per batch).
constexpr size_t kPollBatch = 512;

// Bound for finishing running work on partitions taken away by a rebalance.
constexpr auto kRevokeBudget = std::chrono::seconds(10);

// How long the check of rotated TLS files waits for a broker to answer or refuse.
constexpr auto kRotationProbeTimeout = std::chrono::seconds(5);

// "caFile /x/ca.crt, certFile /x/tls.crt": the TLS files SEC names.
std::string tlsFiles(const KafkaSecurityConfig& sec) {
  std::string out;
  for (const auto& [field, file] :
       {std::pair{"caFile", &sec.caFile}, {"certFile", &sec.certFile}, {"keyFile", &sec.keyFile}})
    if (!file->empty()) out += (out.empty() ? "" : ", ") + std::string(field) + " " + *file;
  return out;
}

}  // namespace

EventSource::EventSource(const RuntimeConfig& config, Dispatcher& dispatcher, MetricsRegistry& metrics,
                         KafkaDeadLetterProducer* deadLetters, ConsumerFactory consumers, const TimeSource& time)
    : config_(config),
      dispatcher_(dispatcher),
      consumers_(std::move(consumers)),
      time_(time),
      deadLetters_(deadLetters) {
  const Labels l{{"worker", config.worker}};
  commitCounter_ = &metrics.counter("worker_commits_total", "Offset commits that succeeded", l);
  commitErrors_ = &metrics.counter("worker_commit_errors_total", "Offset commits that failed", l);
  fetchWakeups_ = &metrics.counter(
      "worker_fetch_wakeups_total",
      "Times librdkafka's fetcher was woken after its queue drained (it would otherwise wait up to a second)", l);
  for (const auto& s : config.subscriptions)
    pauses_[s.topic] =
        &metrics.counter("worker_fetch_pauses_total",
                         "Times fetching for a subscription was paused because its admission budget was used up",
                         {{"worker", config.worker}, {"subscription", s.name}});
}

Status EventSource::open() {
  const auto& security = config_.source.kafka->security;
  // What the Secret holds is read before the consumer reads it: a change in
  // between is seen by the next check (at worst the clients are made anew
  // with what they already have).
  if (security && security->protocol != "PLAINTEXT" && !secretWatch_) {
    auto contents = readKafkaSecret(*security);
    if (!contents) return contents.error();
    secretWatch_.emplace(*security, std::move(*contents));
  }
  std::vector<std::string> topics;
  for (const auto& s : config_.subscriptions) topics.push_back(s.topic);
  auto c = consumers_(*config_.source.kafka, topics, this);
  if (!c) return c.error();
  consumer_ = std::move(*c);
  // A new consumer counts from zero.
  timerCommitsSeen_ = timerCommitErrorsSeen_ = fetchWakeupsSeen_ = 0;
  return {};
}

bool EventSource::alive() const { return msSinceEpoch(time_.now()) - lastLoopMs_.load() < 10'000; }

void EventSource::onAssigned(const std::vector<TopicPartition>& parts) {
  dispatcher_.assign(parts);
  for (const auto& p : parts) parts_.insert(p);
  assigned_.store(parts_.size());
  // A paused topic stays paused for its new partitions too; the others are
  // resumed explicitly: librdkafka keeps a partition's pause flag across
  // assignments, so a partition revoked while paused (and left out of the
  // resume that followed) would come back paused and never be fetched.
  std::vector<TopicPartition> pause, resume;
  for (const auto& p : parts) (pausedTopics_.count(p.topic) || draining_.load() ? pause : resume).push_back(p);
  if (!pause.empty()) consumer_->pause(pause);
  if (!resume.empty()) consumer_->resume(resume);
}

std::vector<CommitPoint> EventSource::onRevoking(const std::vector<TopicPartition>& parts, bool lost) {
  const auto now = time_.now();
  auto points = dispatcher_.revoke(parts, draining_.load() ? now : now + kRevokeBudget);
  for (const auto& p : parts) parts_.erase(p);
  assigned_.store(parts_.size());
  if (lost) return {};
  commits_.fetch_add(points.empty() ? 0 : 1);
  if (!points.empty()) commitCounter_->inc();
  return points;
}

void EventSource::commitDone() {
  // What librdkafka's commit timer did since the last call (its results are
  // served on this thread, inside poll()).
  const uint64_t done = consumer_->timerCommits(), failed = consumer_->timerCommitErrors();
  if (done != timerCommitsSeen_) {
    commitCounter_->inc(static_cast<double>(done - timerCommitsSeen_));
    commits_.fetch_add(static_cast<int64_t>(done - timerCommitsSeen_));
    timerCommitsSeen_ = done;
  }
  if (failed != timerCommitErrorsSeen_) {
    commitErrors_->inc(static_cast<double>(failed - timerCommitErrorsSeen_));
    timerCommitErrorsSeen_ = failed;
  }
  // Finished offsets go to that timer (kafka_consumer.h says why not a commit of our own).
  auto points = dispatcher_.takeCommittable();
  if (points.empty()) return;
  if (auto s = consumer_->store(points); !s) {
    commitErrors_->inc();
    spdlog::warn("kafka: {}", s.error().message);
    return;
  }
  dispatcher_.markCommitted(points);
}

void EventSource::applyBackpressure() {
  for (const auto& s : config_.subscriptions) {
    const bool paused = pausedTopics_.count(s.topic) != 0;
    if (!paused && dispatcher_.full(s.topic)) {
      pausedTopics_.insert(s.topic);
      pauses_[s.topic]->inc();
    } else if (paused && dispatcher_.resumable(s.topic)) {
      pausedTopics_.erase(s.topic);
    } else {
      continue;
    }
    std::vector<TopicPartition> parts;
    for (const auto& p : parts_)
      if (p.topic == s.topic) parts.push_back(p);
    if (pausedTopics_.count(s.topic))
      consumer_->pause(parts);
    else
      consumer_->resume(parts);
  }
}

bool EventSource::followSecret() {
  auto change = secretWatch_->check();
  if (!change) {
    spdlog::warn("kafka: the mounted Secret cannot be read, the clients keep what they have: {}",
                 change.error().message);
    return true;
  }
  const KafkaSecurityConfig& sec = secretWatch_->security();
  switch (*change) {
    case KafkaSecretChange::None:
      return true;
    case KafkaSecretChange::Sasl: {
      const SaslCredentials credentials{secretWatch_->current().username, secretWatch_->current().password};
      Status s = consumer_->setSaslCredentials(credentials);
      if (s && deadLetters_) s = deadLetters_->setSaslCredentials(credentials);
      if (!s) {
        spdlog::error("{}", s.error().message);
        return true;
      }
      spdlog::info(
          "kafka: new SASL credentials in {} and {}: used from the next authentication on, "
          "connections stay up",
          sec.usernameFile.empty() ? "$" + sec.usernameEnv : sec.usernameFile,
          sec.passwordFile.empty() ? "$" + sec.passwordEnv : sec.passwordFile);
      return true;
    }
    case KafkaSecretChange::Tls:
      return recreateClients();
  }
  return true;
}

bool EventSource::recreateClients() {
  const KafkaSecurityConfig& sec = secretWatch_->security();
  const std::string files = tlsFiles(sec);
  Status usable = checkTlsFiles(sec, time_.wallNow());
  if (usable) usable = probeKafkaSecurity(*config_.source.kafka, kRotationProbeTimeout, time_);
  if (!usable) {
    spdlog::error("kafka: the changed TLS files ({}) do not work, the clients keep the ones they have: {}", files,
                  usable.error().message);
    return true;
  }
  spdlog::info("kafka: the TLS files changed ({}): draining {} event(s), committing, then reconnecting with them",
               files, dispatcher_.queueSize());
  const bool drained = drainAndLeave(time_.now() + config_.server.gracePeriod, false);
  consumer_.reset();
  if (stop_.load()) return true;  // asked to stop meanwhile: drained and left already, no new clients
  if (deadLetters_)
    if (auto s = deadLetters_->reopen(*config_.source.kafka); !s) {
      spdlog::error("kafka: the dead-letter producer keeps its client: {}", s.error().message);
    }
  draining_.store(false);
  if (auto s = open(); !s) {
    spdlog::error("kafka: cannot reconnect with the changed TLS files: {}", s.error().message);
    return false;
  }
  spdlog::info("kafka: reconnected with the changed TLS files ({})",
               drained ? "every admitted event had finished and was committed"
                       : "grace period over: what had not finished is fetched again");
  return true;
}

bool EventSource::drainAndLeave(MonoTime deadline, bool stopDispatcher) {
  draining_.store(true);
  consumer_->pause(std::vector<TopicPartition>(parts_.begin(), parts_.end()));
  bool drained = false;
  while (!(drained = dispatcher_.drain(std::min(deadline, time_.now() + std::chrono::milliseconds(200)))) &&
         time_.now() < deadline) {
    lastLoopMs_.store(msSinceEpoch(time_.now()));
    std::vector<Message> ignored;  // serve callbacks; records returned here are not tracked, so never committed
    consumer_->poll(0, kPollBatch, ignored);
    commitDone();
  }
  if (stopDispatcher) dispatcher_.stop();
  commitDone();
  consumer_->close();  // revokes through onRevoking (commits again) and leaves the group
  return drained;
}

bool EventSource::run() {
  auto nextCommit = time_.now() + config_.source.kafka->commitInterval;
  auto nextSecretCheck = time_.now() + kSecretCheckInterval;
  while (!stop_.load()) {
    lastLoopMs_.store(msSinceEpoch(time_.now()));
    // Drain what librdkafka has ready in one go, then do the periodic work.
    // While paused, poll briefly so that resuming follows the workers closely.
    const int firstWaitMs = pausedTopics_.empty() ? 100 : 2;
    std::vector<Message> batch;
    batch.reserve(kPollBatch);
    // What is ready now; else wait for the first record only (a batch read
    // with a timeout would wait for a full batch), then take what followed it.
    if (consumer_->poll(0, kPollBatch, batch) == 0 && consumer_->poll(firstWaitMs, 1, batch) == 1)
      consumer_->poll(0, kPollBatch - 1, batch);
    const bool caughtUp = batch.empty();
    if (!caughtUp) dispatcher_.submit(std::move(batch));
    if (const uint64_t w = consumer_->fetchWakeups(); w != fetchWakeupsSeen_) {
      fetchWakeups_->inc(static_cast<double>(w - fetchWakeupsSeen_));
      fetchWakeupsSeen_ = w;
    }
    applyBackpressure();
    // Store finished offsets every commitInterval, and at once when the
    // source is caught up and every admitted event is finished (the end of a
    // burst is committed by the next tick of librdkafka's commit timer).
    if (time_.now() >= nextCommit || (caughtUp && dispatcher_.queueSize() == 0)) {
      commitDone();
      nextCommit = time_.now() + config_.source.kafka->commitInterval;
    }
    if (secretWatch_ && time_.now() >= nextSecretCheck) {
      if (!followSecret()) {
        failed_.store(true);
        break;
      }
      nextSecretCheck = time_.now() + kSecretCheckInterval;
    }
  }
  if (!consumer_) {  // it left the group for new TLS files and was stopped, or no new one could be made
    dispatcher_.stop();
    return !failed_.load() && dispatcher_.queueSize() == 0;
  }
  // Stop fetching; finish what was admitted within the grace period.
  const auto deadline = time_.now() + config_.server.gracePeriod;
  spdlog::info("shutdown: draining {} event(s), grace period {}", dispatcher_.queueSize(),
               formatDuration(config_.server.gracePeriod));
  const bool drained = drainAndLeave(deadline, true);
  spdlog::info("shutdown: {} ; left the group", drained ? "all in-flight events finished" : "grace period over");
  return drained;
}

}  // namespace ew::runtime
