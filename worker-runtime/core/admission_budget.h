#pragma once
// The admission budget (in events) of a subscription whose handler blocks:
// as many events as its handler calls finish in DRAIN at the observed call
// duration (PARALLELISM calls at once), between FLOOR and CEILING.
//
// Why: a topic is paused when its budget is used up, and a pause drops what
// librdkafka prefetched for it (refetched on resume, at a cost of the order
// of the broker's fetch wait), so a budget worth a few milliseconds of work
// pauses all the time and starves the handler. A budget worth DRAIN of work
// keeps pauses rare while what is admitted still finishes in about DRAIN on
// SIGTERM. Pure, not thread-safe.

#include <chrono>
#include <cstddef>

namespace ew::runtime {

class AdmissionBudget {
 public:
  AdmissionBudget(size_t floor, size_t ceiling, size_t parallelism, std::chrono::nanoseconds drain);

  // One handler call took CALL (an exponentially weighted mean of the recent ones is kept).
  void observe(std::chrono::nanoseconds call);
  // FLOOR until a call was observed.
  size_t events() const { return events_; }

 private:
  const size_t floor_, ceiling_, parallelism_;
  const double drainNs_;
  double meanNs_ = 0;  // 0: nothing observed yet
  size_t events_;
};

}  // namespace ew::runtime
