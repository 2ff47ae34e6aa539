#pragma once
// From a parsed object to a typed, valid EventWorker: the whole offline
// pipeline the API server and the operator apply, in their order —
// identity (apiVersion, kind, metadata.name), defaults, the structural
// schema, the CRD's CEL rules, then the operator's own rules. Pure.

#include <variant>

#include "api/field_errors.h"
#include "api/schema.h"
#include "api/types.h"

namespace ew::api {

inline constexpr const char* kApiVersion = "eventworker.dev/v1alpha1";
inline constexpr const char* kKind = "EventWorker";

struct Loaded {
  EventWorker eventWorker;
  Json defaulted;  // the object with the CRD's defaults applied
};

using LoadResult = std::variant<Loaded, FieldErrors>;

// Validates OBJECT against SCHEMA (the CRD version's openAPIV3Schema).
LoadResult loadEventWorker(const Json& object, const StructuralSchema& schema);

// The same, against the CRD shipped in crds/ (embedded at build time).
LoadResult loadEventWorker(const Json& object);

// The embedded CRD and its v1alpha1 schema.
const Json& eventWorkerCrd();
const StructuralSchema& eventWorkerSchema();

}  // namespace ew::api
