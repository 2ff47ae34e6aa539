#include "core/handler.h"

#include <nlohmann/json.hpp>

namespace ew::runtime {

const char* toString(Outcome o) {
  switch (o) {
    case Outcome::Done:
      return "done";
    case Outcome::Retry:
      return "retry";
    case Outcome::Reject:
      return "reject";
  }
  return "?";
}

HandlerResult interpretHttpReply(int status, const std::string& body) {
  const std::string code = "HTTP " + std::to_string(status);
  if (status == 404) return {Outcome::Reject, code};
  if (status < 200 || status >= 300) return {Outcome::Retry, code};
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("status") || !j["status"].is_string())
    return {Outcome::Done, ""};
  const std::string s = j["status"].get<std::string>();
  if (s == "RETRY") return {Outcome::Retry, code + " status RETRY"};
  if (s == "DROP") return {Outcome::Reject, code + " status DROP"};
  if (s == "SUCCESS" || s.empty()) return {Outcome::Done, ""};
  return {Outcome::Retry, code + " unknown status \"" + s + "\""};
}

HandlerResult interpretExitCode(int exitCode) {
  if (exitCode == 0) return {Outcome::Done, ""};
  if (exitCode == 75) return {Outcome::Retry, "exit code 75"};
  return {Outcome::Reject, "exit code " + std::to_string(exitCode)};
}

}  // namespace ew::runtime
