#include "api/schema.h"

#include <regex>
#include <set>
#include <unordered_map>

namespace ew::api {
namespace {

std::string indexPath(const std::string& parent, std::size_t i) { return parent + "[" + std::to_string(i) + "]"; }

std::string typeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "unknown";
  }
}

// Compiled patterns are cached: the CRD has a handful, validated many times.
const std::regex& compiled(const std::string& pattern) {
  static thread_local std::unordered_map<std::string, std::regex> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
  return it->second;
}

bool typeMatches(const Json& schema, const Json& v) {
  if (v.is_null()) return schema.value("nullable", false);
  if (schema.value("x-kubernetes-int-or-string", false)) return v.is_number_integer() || v.is_string();
  if (!schema.contains("type")) return true;
  const std::string t = schema["type"];
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_boolean();
  if (t == "integer")
    return v.is_number_integer() ||
           (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<std::int64_t>(v.get<double>())));
  if (t == "number") return v.is_number();
  return true;
}

std::string quoted(const Json& v) { return v.is_string() ? "\"" + v.get<std::string>() + "\"" : v.dump(); }

// A value as the API server prints it in "Invalid value: ..." (truncated).
std::string shown(const Json& v) {
  std::string s = quoted(v);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Length in Unicode code points, as the API server counts maxLength.
std::size_t codePoints(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

void validateValue(const Json& schema, const Json& v, const std::string& path, FieldErrors& errors);

void validateObject(const Json& schema, const Json& v, const std::string& path, FieldErrors& errors) {
  const Json props = schema.value("properties", Json::object());
  for (const auto& r : schema.value("required", Json::array())) {
    const std::string name = r;
    if (!v.contains(name) || (v[name].is_null() && !props.value(name, Json::object()).value("nullable", false)))
      errors.push_back({childPath(path, name), "Required value"});
  }
  const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
  const Json* additional = schema.contains("additionalProperties") ? &schema["additionalProperties"] : nullptr;
  for (const auto& [k, item] : v.items()) {
    if (props.contains(k)) {
      if (item.is_null() && !props[k].value("nullable", false) && !schema.value("required", Json::array()).contains(k))
        continue;  // the API server drops a null for a non-nullable optional field
      validateValue(props[k], item, childPath(path, k), errors);
    } else if (additional && additional->is_object()) {
      validateValue(*additional, item, childPath(path, k), errors);
    } else if (!preserve && !(additional && additional->is_boolean() && additional->get<bool>())) {
      errors.push_back({childPath(path, k), "field not declared in schema (unknown field)"});
    }
  }
  if (schema.contains("maxProperties") && v.size() > schema["maxProperties"].get<std::size_t>())
    errors.push_back({path, "Too many: " + std::to_string(v.size()) + ": must have at most " +
                                schema["maxProperties"].dump() + " items"});
}

void validateArray(const Json& schema, const Json& v, const std::string& path, FieldErrors& errors) {
  if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<std::size_t>())
    errors.push_back({path, "Too many: " + std::to_string(v.size()) + ": must have at most " +
                                schema["maxItems"].dump() + " items"});
  if (schema.contains("minItems") && v.size() < schema["minItems"].get<std::size_t>())
    errors.push_back({path, "Invalid value: " + std::to_string(v.size()) + " items: must have at least " +
                                schema["minItems"].dump() + " items"});
  const Json items = schema.value("items", Json::object());
  for (std::size_t i = 0; i < v.size(); ++i) validateValue(items, v[i], indexPath(path, i), errors);

  const std::string listType = schema.value("x-kubernetes-list-type", "atomic");
  if (listType == "map") {
    std::map<std::string, std::size_t> seen;
    const Json keys = schema.value("x-kubernetes-list-map-keys", Json::array());
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_object()) continue;
      Json key = Json::object();
      for (const auto& k : keys) key[k.get<std::string>()] = v[i].value(k.get<std::string>(), Json());
      const std::string id = key.dump();
      auto [it, fresh] = seen.emplace(id, i);
      if (!fresh)
        errors.push_back({indexPath(path, i), "Duplicate value: " + id + " (also at " + indexPath(path, it->second) +
                                                  "); list entries must have unique " + keys.dump()});
    }
  } else if (listType == "set") {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!seen.insert(v[i].dump()).second) errors.push_back({indexPath(path, i), "Duplicate value: " + shown(v[i])});
  }
}

void validateScalar(const Json& schema, const Json& v, const std::string& path, FieldErrors& errors) {
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == v;
    if (!found) {
      std::string supported;
      for (const auto& e : schema["enum"]) supported += (supported.empty() ? "" : ", ") + quoted(e);
      errors.push_back({path, "Unsupported value: " + shown(v) + ": supported values: " + supported});
      return;
    }
  }
  if (v.is_number()) {
    const double d = v.get<double>();
    if (schema.contains("minimum")) {
      const double m = schema["minimum"].get<double>();
      if (schema.value("exclusiveMinimum", false) ? d <= m : d < m)
        errors.push_back({path, "Invalid value: " + v.dump() + ": should be greater than " +
                                    std::string(schema.value("exclusiveMinimum", false) ? "" : "or equal to ") +
                                    schema["minimum"].dump()});
    }
    if (schema.contains("maximum")) {
      const double m = schema["maximum"].get<double>();
      if (schema.value("exclusiveMaximum", false) ? d >= m : d > m)
        errors.push_back({path, "Invalid value: " + v.dump() + ": should be less than " +
                                    std::string(schema.value("exclusiveMaximum", false) ? "" : "or equal to ") +
                                    schema["maximum"].dump()});
    }
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (schema.contains("maxLength") && codePoints(s) > schema["maxLength"].get<std::size_t>())
      errors.push_back({path, "Too long: may not be more than " + schema["maxLength"].dump() + " bytes"});
    if (schema.contains("minLength") && codePoints(s) < schema["minLength"].get<std::size_t>())
      errors.push_back(
          {path, "Invalid value: " + shown(v) + ": should be at least " + schema["minLength"].dump() + " chars long"});
    // libstdc++'s regex recurses per character: refuse absurd lengths before matching.
    constexpr std::size_t kMaxPatternInput = 4096;
    if (schema.contains("pattern") && s.size() > kMaxPatternInput)
      errors.push_back({path, "Too long: may not be more than " + std::to_string(kMaxPatternInput) + " bytes"});
    else if (schema.contains("pattern") && !std::regex_search(s, compiled(schema["pattern"].get<std::string>())))
      errors.push_back(
          {path, "Invalid value: " + shown(v) + ": should match '" + schema["pattern"].get<std::string>() + "'"});
  }
}

void validateValue(const Json& schema, const Json& v, const std::string& path, FieldErrors& errors) {
  if (!typeMatches(schema, v)) {
    std::string expected =
        schema.value("x-kubernetes-int-or-string", false) ? "integer or string" : schema.value("type", "any");
    errors.push_back({path, "Invalid value: " + shown(v) + ": " + path.substr(path.find_last_of('.') + 1) +
                                " in body must be of type " + expected + ", not " + typeName(v)});
    return;
  }
  if (v.is_null()) return;
  if (v.is_object())
    validateObject(schema, v, path, errors);
  else if (v.is_array())
    validateArray(schema, v, path, errors);
  else
    validateScalar(schema, v, path, errors);
}

void defaults(const Json& schema, Json& v) {
  if (v.is_object()) {
    if (!schema.contains("properties")) {
      if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object())
        for (auto& [k, item] : v.items()) defaults(schema["additionalProperties"], item);
      return;
    }
    for (const auto& [k, prop] : schema["properties"].items()) {
      if ((!v.contains(k) || (v[k].is_null() && !prop.value("nullable", false))) && prop.contains("default"))
        v[k] = prop["default"];
      if (v.contains(k)) defaults(prop, v[k]);
    }
  } else if (v.is_array() && schema.contains("items")) {
    for (auto& item : v) defaults(schema["items"], item);
  }
}

}  // namespace

std::string childPath(const std::string& parent, const std::string& field) {
  if (field.empty()) return parent;
  return parent.empty() ? field : parent + "." + field;
}

void StructuralSchema::applyDefaults(Json& object) const { defaults(*schema_, object); }

void StructuralSchema::validate(const Json& object, FieldErrors& errors) const {
  validateValue(*schema_, object, "", errors);
}

}  // namespace ew::api
