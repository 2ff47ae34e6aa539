#include <catch2/catch.hpp>

#include "api/schema.h"

using namespace ew::api;

namespace {

const Json kSchema = Json::parse(R"({
  "type": "object",
  "required": ["name"],
  "properties": {
    "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
    "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
    "nested": {"type": "object", "default": {}, "properties": {
      "inner": {"type": "integer", "default": 7}}},
    "items": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "map",
              "x-kubernetes-list-map-keys": ["name"],
              "items": {"type": "object", "properties": {
                 "name": {"type": "string"}, "size": {"type": "integer", "default": 1}}}},
    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
    "quantity": {"x-kubernetes-int-or-string": true},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
  }
})");

FieldErrors check(const Json& v) {
  FieldErrors errors;
  StructuralSchema(kSchema).validate(v, errors);
  return errors;
}

bool hasError(const FieldErrors& errors, const std::string& path, const std::string& fragment) {
  for (const auto& e : errors)
    if (e.path == path && e.message.find(fragment) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("defaults fill absent fields, nested ones inside defaulted objects too") {
  Json v = {{"name", "x"}, {"items", {{{"name", "a"}}}}};
  StructuralSchema(kSchema).applyDefaults(v);
  CHECK(v["count"] == 3);
  CHECK(v["mode"] == "a");
  CHECK(v["nested"]["inner"] == 7);
  CHECK(v["items"][0]["size"] == 1);
  Json set = {{"name", "x"}, {"count", 9}};
  StructuralSchema(kSchema).applyDefaults(set);
  CHECK(set["count"] == 9);
}

TEST_CASE("every structural rule names its field") {
  CHECK(hasError(check(Json::object()), "name", "Required value"));
  CHECK(hasError(check({{"name", "toolongname"}}), "name", "Too long"));
  CHECK(hasError(check({{"name", "AB"}}), "name", "should match"));
  CHECK(hasError(check({{"name", "a"}, {"count", 0}}), "count", "greater than or equal to 1"));
  CHECK(hasError(check({{"name", "a"}, {"count", 11}}), "count", "less than or equal to 10"));
  CHECK(hasError(check({{"name", "a"}, {"count", "3"}}), "count", "must be of type integer"));
  CHECK(hasError(check({{"name", "a"}, {"mode", "c"}}), "mode", "supported values: \"a\", \"b\""));
  CHECK(hasError(check({{"name", "a"}, {"typo", 1}}), "typo", "unknown field"));
  CHECK(hasError(check({{"name", "a"}, {"nested", {{"x", 1}}}}), "nested.x", "unknown field"));
  CHECK(hasError(check({{"name", "a"}, {"items", {{{"name", "p"}}, {{"name", "p"}}}}}), "items[1]", "Duplicate value"));
  CHECK(hasError(check({{"name", "a"}, {"items", {{{"name", "p"}}, {{"name", "q"}}, {{"name", "r"}}}}}), "items",
                 "Too many"));
  CHECK(hasError(check({{"name", "a"}, {"quantity", true}}), "quantity", "integer or string"));
  CHECK(hasError(check({{"name", "a"}, {"labels", {{"k", 1}}}}), "labels.k", "must be of type string"));
}

TEST_CASE("what the schema allows passes") {
  CHECK(check({{"name", "abc"},
               {"count", 10},
               {"free", {{"any", {1, 2}}}},
               {"quantity", "100m"},
               {"labels", {{"k", "v"}}},
               {"items", {{{"name", "p"}}, {{"name", "q"}}}}})
            .empty());
  CHECK(check({{"name", "abc"}, {"quantity", 2}}).empty());
}
