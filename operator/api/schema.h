#pragma once
// The structural OpenAPI v3 schema of a CRD version, applied offline the way
// kube-apiserver applies it: defaults, then validation of types, required
// fields, enums, bounds, lengths, patterns, list-map key uniqueness, and
// unknown fields (which the API server prunes or, with strict field
// validation, refuses). CEL rules (x-kubernetes-validations) are not
// evaluated here; see cel_rules.h. Pure; immutable after construction.

#include <memory>
#include <string>

#include "api/field_errors.h"
#include "api/yaml_json.h"

namespace ew::api {

class StructuralSchema {
 public:
  // SCHEMA is an openAPIV3Schema value (a JSON object).
  explicit StructuralSchema(Json schema)
      : owned_(std::make_shared<const Json>(std::move(schema))), schema_(owned_.get()) {}

  // NODE, a part of this schema (e.g. a property's schema), as a schema of
  // its own, sharing this one's storage (no copy).
  // REQUIRES: NODE is inside root().
  StructuralSchema at(const Json& node) const {
    StructuralSchema s(*this);
    s.schema_ = &node;
    return s;
  }

  // Fills absent fields that have a default, recursively (a defaulted object
  // gets its own nested defaults), in place.
  void applyDefaults(Json& object) const;

  // Appends one finding per violation. Unknown fields are findings.
  void validate(const Json& object, FieldErrors& errors) const;

  const Json& root() const { return *schema_; }

 private:
  std::shared_ptr<const Json> owned_;
  const Json* schema_;
};

// Joins a child field onto a path: "spec" + "scaling" -> "spec.scaling".
std::string childPath(const std::string& parent, const std::string& field);

}  // namespace ew::api
