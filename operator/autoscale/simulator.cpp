#include "autoscale/simulator.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <sstream>

namespace ew::autoscale {
namespace {

// Processes up to `capacity` messages over `available` (one entry per owned
// partition), evenly while every partition has messages, the unused share of
// a partition that runs dry going to the others. Returns what each takes.
std::vector<double> waterFill(const std::vector<double>& available, double capacity) {
  std::vector<double> take(available.size(), 0);
  std::vector<size_t> open;
  for (size_t i = 0; i < available.size(); ++i)
    if (available[i] > 0) open.push_back(i);
  while (!open.empty() && capacity > 1e-12) {
    double share = capacity / open.size();
    std::vector<size_t> still;
    for (size_t i : open) {
      double t = std::min(share, available[i] - take[i]);
      take[i] += t;
      capacity -= t;
      if (available[i] - take[i] > 1e-12) still.push_back(i);
    }
    if (still.size() == open.size()) break;  // everyone took a full share
    open = std::move(still);
  }
  return take;
}

std::string fixed(double v, int precision) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(precision);
  s << v;
  return s.str();
}

}  // namespace

Summary summarize(const std::vector<StepRecord>& steps, int scaleEvents) {
  Summary s;
  s.scaleEvents = scaleEvents;
  s.seconds = static_cast<int>(steps.size());
  std::vector<double> lags;
  lags.reserve(steps.size());
  for (const auto& r : steps) {
    s.lagSeconds += r.lag;
    s.peakLag = std::max(s.peakLag, r.lag);
    s.replicaSeconds += r.replicas;
    s.peakReplicas = std::max(s.peakReplicas, r.replicas);
    lags.push_back(r.lag);
  }
  if (!lags.empty()) {
    std::sort(lags.begin(), lags.end());
    size_t rank = static_cast<size_t>(std::ceil(0.99 * lags.size()));
    s.p99Lag = lags[std::max<size_t>(rank, 1) - 1];
  }
  return s;
}

namespace {

// The consumer group and its topic as the model in simulator.h sees them,
// one method per step of a second.
class SimulatedGroup {
 public:
  explicit SimulatedGroup(const ModelConfig& model)
      : model_(model),
        end_(model.partitions, 0),
        done_(model.partitions, 0),
        committed_(model.partitions, 0),
        readyAt_(std::max(model.initialReplicas, 0), 0),
        members_(static_cast<int>(readyAt_.size())) {}

  // 1. The group as a lag reader sees it at T.
  ClusterView view(int t) const {
    const bool pausedNow = paused(t);
    ClusterView v{t, pods(), {}};
    v.partitions.reserve(model_.partitions);
    for (int p = 0; p < model_.partitions; ++p)
      v.partitions.push_back({"events", p, 0, static_cast<std::int64_t>(std::floor(end_[p] + 1e-9)),
                              static_cast<std::int64_t>(std::floor(committed_[p] + 1e-9)), members_ > 0 && !pausedNow});
    return v;
  }

  // 2. The Deployment follows DESIRED at T; returns whether it changed.
  bool scaleTo(int desired, int t) {
    const int now = pods();
    if (desired == now) return false;
    if (desired > now) {
      readyAt_.insert(readyAt_.end(), desired - now, t + model_.podStartSeconds);
    } else {
      std::sort(readyAt_.begin(), readyAt_.end());  // not-yet-started pods go first
      readyAt_.resize(desired);
    }
    return true;
  }

  // 3. Pods that joined or left at T pause the group.
  void rebalance(int t) {
    const int nowMembers =
        static_cast<int>(std::count_if(readyAt_.begin(), readyAt_.end(), [&](int r) { return r <= t; }));
    if (nowMembers == members_) return;
    members_ = nowMembers;
    pausedUntil_ = std::max(pausedUntil_, t + model_.rebalancePauseSeconds);
  }

  // 4. RATE messages arrive, spread evenly.
  void produce(double rate) {
    for (int p = 0; p < model_.partitions; ++p) end_[p] += rate / model_.partitions;
  }

  // 5. The members process what they can in [T, T+1); returns how much.
  double consume(int t) {
    double consumed = 0;
    if (paused(t) || members_ == 0) return consumed;
    for (int m = 0; m < members_; ++m) {
      std::vector<int> owned;
      std::vector<double> available;
      for (int p = m; p < model_.partitions; p += members_) {
        owned.push_back(p);
        available.push_back(stuck(p, t) ? 0.0 : end_[p] - done_[p]);
      }
      auto take = waterFill(available, model_.perReplicaRate);
      for (size_t i = 0; i < owned.size(); ++i) {
        done_[owned[i]] += take[i];
        consumed += take[i];
      }
    }
    return consumed;
  }

  // 6. Commits fall between the autoscalers' polls (which come at multiples
  // of their intervals), so a poll sees offsets about half an interval old.
  void commit(int t) {
    if ((t + 1 + model_.commitIntervalSeconds / 2) % model_.commitIntervalSeconds == 0) committed_ = done_;
  }

  double lag() const {
    double lag = 0;
    for (int p = 0; p < model_.partitions; ++p) lag += end_[p] - done_[p];
    return lag;
  }
  bool paused(int t) const { return t < pausedUntil_; }
  int pods() const { return static_cast<int>(readyAt_.size()); }
  int members() const { return members_; }

 private:
  bool stuck(int p, int t) const {
    return model_.stuck && model_.stuck->partition == p && t >= model_.stuck->fromSeconds &&
           t < model_.stuck->untilSeconds;
  }

  const ModelConfig& model_;
  std::vector<double> end_, done_, committed_;  // per partition
  std::vector<int> readyAt_;                    // per pod
  int members_ = 0;
  int pausedUntil_ = 0;
};

}  // namespace

SimResult simulate(const Trace& trace, const ModelConfig& model, Autoscaler& autoscaler) {
  assert(!trace.empty() && model.partitions >= 1);
  const int seconds = traceSeconds(trace);
  SimulatedGroup group(model);
  int scaleEvents = 0;
  SimResult result;
  result.steps.reserve(seconds);
  for (int t = 0; t < seconds; ++t) {
    if (group.scaleTo(std::max(0, autoscaler.tick(group.view(t))), t)) ++scaleEvents;
    group.rebalance(t);
    const double rate = rateAt(trace, t + 0.5);  // the mean over [t, t+1) for a linear segment
    group.produce(rate);
    const double consumed = group.consume(t);
    group.commit(t);
    result.steps.push_back(
        {t, rate, consumed, group.lag(), group.pods(), group.members(), group.paused(t), autoscaler.note()});
  }
  result.summary = summarize(result.steps, scaleEvents);
  return result;
}

std::string toCsv(const SimResult& result) {
  std::ostringstream out;
  out << "t,produce_rate,consumed,lag,replicas,members,rebalancing,note\n";
  for (const auto& r : result.steps)
    out << r.t << ',' << fixed(r.produceRate, 2) << ',' << fixed(r.consumed, 2) << ',' << fixed(r.lag, 1) << ','
        << r.replicas << ',' << r.members << ',' << (r.rebalancing ? 1 : 0) << ',' << r.note << '\n';
  return out.str();
}

std::string gnuplotScript(const std::string& csvPath, const std::string& pngPath, const std::string& title) {
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
  };
  std::ostringstream g;
  g << "set datafile separator ','\n"
    << "set terminal png size 1200,600\n"
    << "set output " << quote(pngPath) << "\n"
    << "set title " << quote(title) << " noenhanced\n"
    << "set key top left\n"
    << "set xlabel 'seconds'\n"
    << "set ylabel 'lag (messages)'\n"
    << "set y2label 'replicas'\n"
    << "set ytics nomirror\n"
    << "set y2tics\n"
    << "set yrange [0:*]\n"
    << "set y2range [0:*]\n"
    << "plot " << quote(csvPath) << " using 1:4 skip 1 with lines lw 2 title 'lag' axes x1y1, \\\n"
    << "     " << quote(csvPath) << " using 1:5 skip 1 with steps lw 2 title 'replicas' axes x1y2\n";
  return g.str();
}

std::string summaryText(const Summary& s) {
  std::ostringstream out;
  out << "lag_seconds " << fixed(s.lagSeconds, 0) << "\n"
      << "peak_lag " << fixed(s.peakLag, 0) << "\n"
      << "p99_lag " << fixed(s.p99Lag, 0) << "\n"
      << "replica_seconds " << fixed(s.replicaSeconds, 0) << "\n"
      << "scale_events " << s.scaleEvents << "\n"
      << "peak_replicas " << s.peakReplicas << "\n"
      << "seconds " << s.seconds << "\n";
  return out.str();
}

EventWorkerAutoscaler::EventWorkerAutoscaler(PolicyConfig config, int pollIntervalSeconds)
    : config_(std::move(config)), pollIntervalSeconds_(pollIntervalSeconds) {
  assert(validate(config_).ok() && pollIntervalSeconds_ >= 1);
}

int EventWorkerAutoscaler::tick(const ClusterView& view) {
  if (view.t % pollIntervalSeconds_ != 0) return view.specReplicas;
  Observation o{Millis(view.t * 1000LL), view.specReplicas, OffsetReset::Latest, view.partitions};
  auto step = policyPoll(state_, config_, o);
  state_ = std::move(step.state);
  last_ = step.decision.reason;
  return step.decision.desiredReplicas;
}

std::string EventWorkerAutoscaler::note() const { return last_ ? reasonName(*last_) : ""; }

}  // namespace ew::autoscale
