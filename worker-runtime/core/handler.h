#pragma once
// The handler seam: what the dispatcher (events) and the cron runner (jobs)
// call for each unit of work, and the reply contracts of the http and exec
// handlers as pure functions.

#include <memory>
#include <string>

#include "core/message.h"

namespace ew::runtime {

enum class Outcome {
  Done,    // finished: commit
  Retry,   // failed, may succeed later: back off and try again
  Reject,  // will never succeed: dead-letter at once
};

const char* toString(Outcome o);

struct HandlerRequest {
  std::string route;  // e.g. "/events/order-completed"
  std::string eventId;
  std::string body;  // a structured CloudEvent (JSON)
  Headers headers;   // extra request headers (e.g. traceparent)
};

struct HandlerResult {
  Outcome outcome = Outcome::Done;
  std::string detail;  // why, for logs and dead-letter headers (empty when done)
};

// Thread-safety: handle() is called concurrently from many threads.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual HandlerResult handle(const HandlerRequest& request) = 0;
  // False when the handler ignores the body (noop), so callers may skip building it.
  virtual bool needsBody() const { return true; }
  // False when handle() never waits (noop): then threads beyond the CPU count
  // add nothing but context switches, and callers may run fewer.
  virtual bool blocks() const { return true; }
  // A cheap liveness probe for /readyz; true when the handler can take work.
  virtual bool reachable() { return true; }
};
using HandlerPtr = std::shared_ptr<Handler>;

// Dapr's app reply contract: 2xx with empty body or {"status":"SUCCESS"} is
// done, {"status":"RETRY"} (or 5xx, 429) retry, {"status":"DROP"} or 404
// reject; any other status retries.
HandlerResult interpretHttpReply(int status, const std::string& body);

// exec contract: 0 done, 75 (EX_TEMPFAIL) retry, anything else reject.
HandlerResult interpretExitCode(int exitCode);

}  // namespace ew::runtime
