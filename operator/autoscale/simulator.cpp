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

SimResult simulate(const Trace& trace, const ModelConfig& model, Autoscaler& autoscaler) {
  assert(!trace.empty() && model.partitions >= 1);
  const int partitions = model.partitions;
  const int seconds = traceSeconds(trace);
  std::vector<double> end(partitions, 0), done(partitions, 0), committed(partitions, 0);
  std::vector<int> readyAt(std::max(model.initialReplicas, 0), 0);  // per pod
  int members = static_cast<int>(readyAt.size());
  int pausedUntil = 0;
  int scaleEvents = 0;
  SimResult result;
  result.steps.reserve(seconds);

  for (int t = 0; t < seconds; ++t) {
    const bool pausedNow = t < pausedUntil;
    ClusterView view{t, static_cast<int>(readyAt.size()), {}};
    view.partitions.reserve(partitions);
    for (int p = 0; p < partitions; ++p)
      view.partitions.push_back({"events", p, 0, static_cast<std::int64_t>(std::floor(end[p] + 1e-9)),
                                 static_cast<std::int64_t>(std::floor(committed[p] + 1e-9)),
                                 members > 0 && !pausedNow});

    int desired = std::max(0, autoscaler.tick(view));
    int pods = static_cast<int>(readyAt.size());
    if (desired != pods) {
      ++scaleEvents;
      if (desired > pods) {
        readyAt.insert(readyAt.end(), desired - pods, t + model.podStartSeconds);
      } else {
        std::sort(readyAt.begin(), readyAt.end());  // not-yet-started pods go first
        readyAt.resize(desired);
      }
    }
    int nowMembers = static_cast<int>(std::count_if(readyAt.begin(), readyAt.end(), [&](int r) { return r <= t; }));
    if (nowMembers != members) {
      members = nowMembers;
      pausedUntil = std::max(pausedUntil, t + model.rebalancePauseSeconds);
    }

    double rate = rateAt(trace, t + 0.5);  // the mean over [t, t+1) for a linear segment
    for (int p = 0; p < partitions; ++p) end[p] += rate / partitions;

    bool paused = t < pausedUntil;
    double consumed = 0;
    if (!paused && members > 0) {
      for (int m = 0; m < members; ++m) {
        std::vector<int> owned;
        std::vector<double> available;
        for (int p = m; p < partitions; p += members) {
          bool stuck = model.stuck && model.stuck->partition == p && t >= model.stuck->fromSeconds &&
                       t < model.stuck->untilSeconds;
          owned.push_back(p);
          available.push_back(stuck ? 0.0 : end[p] - done[p]);
        }
        auto take = waterFill(available, model.perReplicaRate);
        for (size_t i = 0; i < owned.size(); ++i) {
          done[owned[i]] += take[i];
          consumed += take[i];
        }
      }
    }
    // Commits fall between the autoscalers' polls (which come at multiples of
    // their intervals), so a poll sees offsets about half an interval old.
    if ((t + 1 + model.commitIntervalSeconds / 2) % model.commitIntervalSeconds == 0) committed = done;
    double lag = 0;
    for (int p = 0; p < partitions; ++p) lag += end[p] - done[p];
    result.steps.push_back(
        {t, rate, consumed, lag, static_cast<int>(readyAt.size()), members, paused, autoscaler.note()});
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
