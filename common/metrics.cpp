#include "ew/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace ew {

void Counter::inc(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
double Counter::value() const { return value_.load(std::memory_order_relaxed); }
void Gauge::set(double v) { value_.store(v, std::memory_order_relaxed); }
void Gauge::add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
double Gauge::value() const { return value_.load(std::memory_order_relaxed); }
void StateSet::set(int state) { state_.store(state, std::memory_order_relaxed); }
int StateSet::value() const { return state_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::lock_guard l(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard l(mu_);
  Snapshot s{bounds_, {}, sum_, count_};
  uint64_t acc = 0;
  for (uint64_t c : counts_) s.cumulative.push_back(acc += c);
  return s;
}

std::vector<double> MetricsRegistry::defaultBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

namespace {

std::string escapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

// `k="v",...` in key order, without braces: a series' key in its family.
std::string seriesKey(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + escapeLabel(v) + "\"";
  return out;
}

}  // namespace

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, Type type, const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type)
    throw std::logic_error("metric " + name + " registered with two types");
  return it->second;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard l(mu_);
  return family(name, Type::Counter, help).counters.try_emplace(seriesKey(labels)).first->second;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard l(mu_);
  return family(name, Type::Gauge, help).gauges.try_emplace(seriesKey(labels)).first->second;
}

StateSet& MetricsRegistry::stateSet(const std::string& name, const std::string& help, const std::string& stateLabel,
                                    const std::vector<std::string>& states, const Labels& labels) {
  std::lock_guard l(mu_);
  Family& f = family(name, Type::StateSet, help);
  if (f.states.empty()) {
    f.stateLabel = stateLabel;
    f.states = states;
    for (size_t i = 0; i < states.size(); ++i) f.stateOrder.push_back(i);
    std::sort(f.stateOrder.begin(), f.stateOrder.end(), [&](size_t a, size_t b) { return states[a] < states[b]; });
  }
  auto [it, inserted] = f.stateSets.try_emplace(seriesKey(labels));
  if (inserted) {
    // The state label goes after the labels whose keys sort before it.
    Labels before;
    for (const auto& [k, v] : labels)
      if (k < f.stateLabel) before.emplace(k, v);
    it->second.split_ = seriesKey(before).size();
  }
  return it->second;
}

void MetricsRegistry::forgetStateSet(const std::string& name, const Labels& labels) {
  std::lock_guard l(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.stateSets.erase(seriesKey(labels));
}

void MetricsRegistry::forgetGauge(const std::string& name, const Labels& labels) {
  std::lock_guard l(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.gauges.erase(seriesKey(labels));
}

void MetricsRegistry::forgetCounter(const std::string& name, const Labels& labels) {
  std::lock_guard l(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.counters.erase(seriesKey(labels));
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                                      std::vector<double> bounds) {
  std::lock_guard l(mu_);
  auto& series = family(name, Type::Histogram, help).histograms;
  const std::string key = seriesKey(labels);
  auto it = series.find(key);
  if (it == series.end()) it = series.try_emplace(key, std::move(bounds)).first;
  return it->second;
}

namespace {

// KEY (a seriesKey) with EXTRA_KEY="EXTRA_VALUE" after it, in braces; "" when both are empty.
std::string labelText(const std::string& key, const std::string& extraKey = "", const std::string& extraValue = "") {
  std::string out = key;
  if (!extraKey.empty()) out += (out.empty() ? "" : ",") + extraKey + "=\"" + extraValue + "\"";
  return out.empty() ? "" : "{" + out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string MetricsRegistry::render() const {
  std::lock_guard l(mu_);
  size_t series = 0;
  for (const auto& [name, f] : families_)
    series += f.counters.size() + f.gauges.size() + f.histograms.size() + f.stateSets.size() * f.states.size();
  std::string out;
  if (lastRenderSeries_ > 0) out.reserve(lastRenderSize_ * series / lastRenderSeries_ * 17 / 16);
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::Counter ? "counter" : f.type == Type::Histogram ? "histogram" : "gauge";
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, c] : f.counters) out += name + labelText(labels) + " " + number(c.value()) + "\n";
    for (const auto& [labels, g] : f.gauges) out += name + labelText(labels) + " " + number(g.value()) + "\n";
    for (const auto& [labels, s] : f.stateSets) {
      const int current = s.value();
      for (size_t i : f.stateOrder) {
        // The state label at its place among the others (after those whose keys sort before it).
        std::string state = f.stateLabel + "=\"" + escapeLabel(f.states[i]) + "\"";
        if (s.split_ > 0)
          state.insert(0, ",");
        else if (!labels.empty())
          state += ",";
        out.append(name).append("{").append(labels, 0, s.split_).append(state).append(labels, s.split_);
        out.append(static_cast<int>(i) == current ? "} 1\n" : "} 0\n");
      }
    }
    for (const auto& [labels, h] : f.histograms) {
      auto s = h.snapshot();
      for (size_t i = 0; i < s.bounds.size(); ++i)
        out += name + "_bucket" + labelText(labels, "le", number(s.bounds[i])) + " " + std::to_string(s.cumulative[i]) +
               "\n";
      out += name + "_bucket" + labelText(labels, "le", "+Inf") + " " + std::to_string(s.count) + "\n";
      out += name + "_sum" + labelText(labels) + " " + number(s.sum) + "\n";
      out += name + "_count" + labelText(labels) + " " + std::to_string(s.count) + "\n";
    }
  }
  lastRenderSize_ = out.size();
  lastRenderSeries_ = series;
  return out;
}

}  // namespace ew
