#pragma once
// Arrival-rate traces for the simulator: CSV rows "t_seconds,produce_rate"
// (messages per second), t strictly increasing from >= 0. A first row that is
// not numeric is a header; blank lines and lines starting with '#' are skipped.
// Between rows the rate is interpolated linearly, so a step is written as two
// rows one second apart. Value types; pure.

#include <string>
#include <vector>

#include "ew/result.h"

namespace ew::autoscale {

struct TracePoint {
  double t = 0;     // seconds from the start
  double rate = 0;  // messages per second produced at t
};

using Trace = std::vector<TracePoint>;

// Errors name the line: "line 7: produce_rate must be a number >= 0".
Result<Trace> parseTrace(const std::string& csv);

// The rate at time t: linear between rows, the first row's rate before it,
// the last row's after it. REQUIRES: !trace.empty().
double rateAt(const Trace& trace, double t);

// Seconds the trace covers (its last row's t). REQUIRES: !trace.empty().
int traceSeconds(const Trace& trace);

}  // namespace ew::autoscale
