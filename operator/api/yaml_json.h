#pragma once
// YAML/JSON text <-> nlohmann::json (parsing with libyaml, emitting with yaml-cpp), with YAML 1.2 core-schema typing
// (plain scalars become null/bool/int/float where they read so; quoted ones stay strings). Pure.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ew/result.h"

namespace ew::api {

using Json = nlohmann::json;

// Every non-empty document of TEXT (YAML, which includes JSON), in order,
// parsed with libyaml. The error gives the line and column of a syntax error.
// Duplicate keys are errors; nesting depth and alias expansion are bounded.
Result<std::vector<Json>> parseDocuments(const std::string& text);

// Block-style YAML for VALUE. Keys come out sorted (nlohmann::json order);
// strings that would read back as another type are quoted, so
// parseDocuments(toYaml(v)) == {v}. Deterministic.
std::string toYaml(const Json& value);

}  // namespace ew::api
