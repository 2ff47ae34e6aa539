#pragma once
// What feeds the dispatcher in events mode: the Kafka consumer
// (loops/event_source.h) or the Dapr app channel (loops/dapr_source.h).
//
// Thread-safety: run() is called by one thread; requestStop() and the probes
// from any thread.

#include <cstddef>

#include "ew/result.h"

namespace ew::runtime {

class Source {
 public:
  virtual ~Source() = default;
  // Connects or binds (fails on bad settings); before run().
  virtual Status open() = 0;
  // Feeds the dispatcher until requestStop(); then stops taking events and
  // drains until the grace period from the stop request ends. True when
  // every admitted event finished within it.
  virtual bool run() = 0;
  virtual void requestStop() = 0;
  virtual bool alive() const = 0;  // /healthz: the source's loop iterated recently
  virtual bool ready() const = 0;  // /readyz (with the handler's probe): events can arrive
  virtual size_t assignedPartitions() const { return 0; }
  // After run(): it ended on an error of its own, not on requestStop() (the
  // runtime then exits 1).
  virtual bool failed() const { return false; }
};

}  // namespace ew::runtime
