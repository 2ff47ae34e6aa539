#pragma once
// What an outbox relay says of its table (loops/outbox_relay.h): the backlog
// it counted, and its report in the runtime's /status, which the operator
// reads into the EventWorker's status.outbox. Value types; kept apart from
// core/outbox_batch.h so that the ops server's users need not see the batch
// types.

#include <cstdint>
#include <string>

namespace ew::runtime {

struct OutboxBacklog {
  int64_t pending = 0;
  double oldestAgeSeconds = 0;  // 0 when nothing is pending
};

// Only the active relay counts its table: counted is false in the other states.
struct OutboxRelayReport {
  std::string name;
  std::string state;  // connecting | standby | active
  bool counted = false;
  OutboxBacklog backlog;
};

}  // namespace ew::runtime
