#include "core/dead_letter.h"

namespace ew::runtime {

const char* toString(DeadLetterReason r) {
  switch (r) {
    case DeadLetterReason::Malformed:
      return "malformed";
    case DeadLetterReason::Exhausted:
      return "exhausted";
    case DeadLetterReason::Rejected:
      return "rejected";
  }
  return "?";
}

Headers deadLetterHeaders(const Message& m, int attempts, DeadLetterReason reason, const std::string& error,
                          const std::string& worker, const std::string& subscription) {
  Headers h = m.headers;
  h.emplace_back("ew-origin-topic", m.tp.topic);
  h.emplace_back("ew-origin-partition", std::to_string(m.tp.partition));
  h.emplace_back("ew-origin-offset", std::to_string(m.offset));
  h.emplace_back("ew-attempts", std::to_string(attempts));
  h.emplace_back("ew-reason", toString(reason));
  h.emplace_back("ew-error", error.substr(0, kMaxErrorHeaderBytes));
  h.emplace_back("ew-worker", worker);
  h.emplace_back("ew-subscription", subscription);
  return h;
}

}  // namespace ew::runtime
