#pragma once
// Validation findings that name the field: "spec.scaling.minReplicas: must be
// at most maxReplicas (10), got 12". Paths use the API server's spelling
// (dots, [index] for lists) so a finding reads the same offline and online.

#include <string>
#include <vector>

namespace ew::api {

struct FieldError {
  std::string path;     // e.g. "spec.subscriptions[2].retry.maxBackoff"
  std::string message;  // what is wrong and what would be valid
};

using FieldErrors = std::vector<FieldError>;

inline std::string describe(const FieldError& e) { return e.path + ": " + e.message; }

// One finding per line.
inline std::string describe(const FieldErrors& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += describe(e);
  }
  return out;
}

}  // namespace ew::api
