#pragma once
// Typed decoding of an EventWorker object that has already been defaulted and
// has passed the structural schema (so types and enums are known good). Pure.

#include "api/types.h"
#include "api/yaml_json.h"
#include "ew/result.h"

namespace ew::api {

// REQUIRES: OBJECT passed StructuralSchema::validate without findings.
// Still returns an Error (naming the field) for what the schema cannot rule
// out, such as a duration too large to represent.
Result<EventWorker> decodeEventWorker(const Json& object);

}  // namespace ew::api
