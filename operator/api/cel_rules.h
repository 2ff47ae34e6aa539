#pragma once
// The CRD's CEL rules (x-kubernetes-validations), evaluated in C++ so that
// `eventworker validate` refuses offline what the API server refuses. Each
// rule carries the schema location it is attached to and the exact message
// the CRD gives, and a unit test checks this list against the CRD file one
// for one. Pure.

#include <functional>
#include <string>
#include <vector>

#include "api/field_errors.h"
#include "api/yaml_json.h"

namespace ew::api {

struct CelRule {
  std::string schemaPath;  // where the CRD attaches it: "", "spec", "spec.scaling", "spec.subscriptions[*]", ...
  std::string message;     // the CRD's message, verbatim
  // Checks the rule on an object that passed the structural schema (with
  // defaults applied); appends a finding (path + message) when it fails.
  std::function<void(const Json& eventWorker, FieldErrors&)> check;
};

const std::vector<CelRule>& celRules();

// Runs every rule.
void checkCelRules(const Json& eventWorker, FieldErrors& errors);

}  // namespace ew::api
