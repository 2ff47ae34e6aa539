#include "autoscale/trace.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace ew::autoscale {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool parseNumber(const std::string& text, double& out) {
  std::string t = trim(text);
  if (t.empty()) return false;
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && std::isfinite(out);
}

}  // namespace

Result<Trace> parseTrace(const std::string& csv) {
  Trace trace;
  std::istringstream in(csv);
  std::string line;
  int number = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++number;
    std::string row = trim(line);
    if (row.empty() || row[0] == '#') continue;
    auto comma = row.find(',');
    double t = 0, rate = 0;
    bool numeric = comma != std::string::npos && parseNumber(row.substr(0, comma), t);
    if (first && !numeric) {  // header
      first = false;
      continue;
    }
    first = false;
    auto where = "line " + std::to_string(number) + ": ";
    if (comma == std::string::npos) return Error{where + "expected t_seconds,produce_rate"};
    if (!numeric || t < 0) return Error{where + "t_seconds must be a number >= 0"};
    if (!parseNumber(row.substr(comma + 1), rate) || rate < 0)
      return Error{where + "produce_rate must be a number >= 0"};
    if (!trace.empty() && t <= trace.back().t) return Error{where + "t_seconds must increase"};
    trace.push_back({t, rate});
  }
  if (trace.empty()) return Error{"no rows: expected t_seconds,produce_rate"};
  return trace;
}

double rateAt(const Trace& trace, double t) {
  if (t <= trace.front().t) return trace.front().rate;
  if (t >= trace.back().t) return trace.back().rate;
  auto next = std::upper_bound(trace.begin(), trace.end(), t, [](double v, const TracePoint& p) { return v < p.t; });
  auto prev = next - 1;
  double f = (t - prev->t) / (next->t - prev->t);
  return prev->rate + f * (next->rate - prev->rate);
}

int traceSeconds(const Trace& trace) { return static_cast<int>(std::floor(trace.back().t)); }

}  // namespace ew::autoscale
