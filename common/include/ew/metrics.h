#pragma once
// A small Prometheus metrics registry: counters, gauges and histograms with
// labels, rendered in the text exposition format (version 0.0.4).
//
// Thread-safe. Metric objects live as long as the registry; references stay
// valid. Get-or-create by (name, labels); a name has one type and help text.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ew {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void inc(double v = 1.0);
  double value() const;

 private:
  std::atomic<double> value_{0};  // lock-free: incremented per event on the hot path
};

class Gauge {
 public:
  void set(double v);
  void add(double v);
  double value() const;

 private:
  std::atomic<double> value_{0};
};

// A state set (OpenMetrics' StateSet; kube-state-metrics' *_phase series):
// one current state of a fixed list, rendered in text format 0.0.4 as a gauge
// line per state, 1 for the current one and 0 for the others. One value per
// label set where a gauge per state cost a series each.
class StateSet {
 public:
  // The index of the current state in the family's list; outside it (-1): no
  // state is current, every line is 0.
  void set(int state);
  int value() const;

 private:
  friend class MetricsRegistry;
  std::atomic<int> state_{-1};
  size_t split_ = 0;  // where the state label goes in the series key (keys in order)
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class MetricsRegistry {
 public:
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       std::vector<double> bounds = defaultBuckets());
  // The state set NAME{LABELS} whose lines carry STATE_LABEL="<one of
  // STATES>". A name has one state label and list of states (the first
  // registration's). REQUIRES: STATE_LABEL not among LABELS' keys.
  StateSet& stateSet(const std::string& name, const std::string& help, const std::string& stateLabel,
                     const std::vector<std::string>& states, const Labels& labels = {});
  // Drops one gauge series (its object goes away: do not keep a reference to a
  // gauge that may be forgotten). For series of objects that no longer exist.
  void forgetGauge(const std::string& name, const Labels& labels);
  // The same for a counter series of an object that no longer exists.
  void forgetCounter(const std::string& name, const Labels& labels);
  // The same for a state set (all its lines).
  void forgetStateSet(const std::string& name, const Labels& labels);
  std::string render() const;

  static std::vector<double> defaultBuckets();  // 5 ms .. 60 s

 private:
  enum class Type { Counter, Gauge, Histogram, StateSet };
  // Series by their labels as rendered (`k="v",...`, keys in order): one
  // node and one string a series, where a Labels map and a separate metric
  // object cost about three times as much (thousands of EventWorkers have
  // several series each).
  struct Family {
    Type type = Type::Counter;
    std::string help;
    std::map<std::string, Counter> counters;
    std::map<std::string, Gauge> gauges;
    std::map<std::string, Histogram> histograms;
    std::map<std::string, StateSet> stateSets;  // keys without the state label
    std::string stateLabel;
    std::vector<std::string> states;
    std::vector<size_t> stateOrder;  // indices of states by name: lines in label order
  };
  Family& family(const std::string& name, Type type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  // The size of the last render() and its number of series: the next one
  // reserves that size scaled to its own series and a little more, so its
  // text is built in one buffer near its size, not one grown by doubling
  // (thousands of EventWorkers make a scrape of most of a megabyte, and the
  // series grow between scrapes while workers are created).
  mutable size_t lastRenderSize_ = 0, lastRenderSeries_ = 0;  // guarded by mu_
};

}  // namespace ew
