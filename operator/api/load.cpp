#include "api/load.h"

#include <regex>

#include "api/cel_rules.h"
#include "api/decode.h"
#include "api/operator_rules.h"

namespace ew::api {

// Generated from crds/eventworker.dev_eventworkers.yaml (cmake/EmbedText.cmake).
extern const char* const kEventWorkerCrdYaml;

namespace {

void identity(const Json& o, FieldErrors& errors) {
  if (o.value("apiVersion", Json()) != kApiVersion)
    errors.push_back({"apiVersion", "Unsupported value: " + o.value("apiVersion", Json()).dump() +
                                        ": supported values: \"" + std::string(kApiVersion) + "\""});
  if (o.value("kind", Json()) != kKind)
    errors.push_back({"kind", "Unsupported value: " + o.value("kind", Json()).dump() + ": supported values: \"" +
                                  std::string(kKind) + "\""});
  const Json meta = o.value("metadata", Json());
  if (!meta.is_object()) {
    errors.push_back({"metadata", "Required value: an object with at least a name"});
    return;
  }
  static const std::regex subdomain(R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)");
  const Json name = meta.value("name", Json());
  if (!name.is_string() || name.get<std::string>().empty())
    errors.push_back({"metadata.name", "Required value: name or generateName is required"});
  else if (name.get<std::string>().size() > 253 || !std::regex_match(name.get<std::string>(), subdomain))
    errors.push_back(
        {"metadata.name", "Invalid value: " + name.dump() +
                              ": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                              "characters, '-' or '.', and must start and end with an alphanumeric character"});
  if (meta.contains("namespace") && !meta["namespace"].is_string())
    errors.push_back({"metadata.namespace", "must be a string"});
  for (const auto& [k, v] : o.items())
    if (k != "apiVersion" && k != "kind" && k != "metadata" && k != "spec" && k != "status")
      errors.push_back({k, "field not declared in schema (unknown field)"});
}

}  // namespace

LoadResult loadEventWorker(const Json& object, const StructuralSchema& schema) {
  FieldErrors errors;
  if (!object.is_object()) return FieldErrors{{"", "an EventWorker must be a mapping/object"}};
  identity(object, errors);

  Json defaulted = object;
  const StructuralSchema spec = schema.at(schema.root()["properties"]["spec"]);
  if (!defaulted.contains("spec") || !defaulted["spec"].is_object()) {
    errors.push_back({"spec", "Required value: an EventWorker needs a spec"});
    return errors;
  }
  spec.applyDefaults(defaulted["spec"]);
  FieldErrors specErrors;
  spec.validate(defaulted["spec"], specErrors);
  for (auto& e : specErrors) errors.push_back({childPath("spec", e.path), e.message});
  if (!errors.empty()) return errors;

  checkCelRules(defaulted, errors);
  if (!errors.empty()) return errors;

  auto ew = decodeEventWorker(defaulted);
  if (!ew) return FieldErrors{{"spec", ew.error().message}};
  checkOperatorRules(*ew, errors);
  if (!errors.empty()) return errors;
  return Loaded{std::move(*ew), std::move(defaulted)};
}

const Json& eventWorkerCrd() {
  static const Json crd = [] {
    auto docs = parseDocuments(kEventWorkerCrdYaml);
    if (!docs || docs->size() != 1) std::abort();  // a build defect: the file is checked by crd tests
    return (*docs)[0];
  }();
  return crd;
}

const StructuralSchema& eventWorkerSchema() {
  static const StructuralSchema schema = [] {
    for (const auto& v : eventWorkerCrd()["spec"]["versions"])
      if (v["name"] == "v1alpha1") return StructuralSchema(v["schema"]["openAPIV3Schema"]);
    std::abort();  // a build defect: the CRD must define v1alpha1
  }();
  return schema;
}

LoadResult loadEventWorker(const Json& object) { return loadEventWorker(object, eventWorkerSchema()); }

}  // namespace ew::api
