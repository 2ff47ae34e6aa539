#include <catch2/catch.hpp>

#include "api/yaml_json.h"

using ew::api::Json;
using ew::api::parseDocuments;
using ew::api::toYaml;

TEST_CASE("plain scalars take YAML 1.2 core types and quoted ones stay strings") {
  auto docs = parseDocuments("a: 1\nb: '1'\nc: true\nd: \"true\"\ne: ~\nf: 1.5\ng: 0x10\nh: text\ni: -7\nj: 1e3\n");
  REQUIRE(docs);
  REQUIRE(docs->size() == 1);
  const Json& d = (*docs)[0];
  CHECK(d["a"] == 1);
  CHECK(d["b"] == "1");
  CHECK(d["c"] == true);
  CHECK(d["d"] == "true");
  CHECK(d["e"].is_null());
  CHECK(d["f"] == 1.5);
  CHECK(d["g"] == 16);
  CHECK(d["h"] == "text");
  CHECK(d["i"] == -7);
  CHECK(d["j"] == 1000.0);
}

TEST_CASE("several documents, empty ones skipped, JSON accepted") {
  auto docs = parseDocuments("---\na: 1\n---\n---\n{\"b\": [1, 2]}\n");
  REQUIRE(docs);
  REQUIRE(docs->size() == 2);
  CHECK((*docs)[1]["b"] == Json::array({1, 2}));
}

TEST_CASE("syntax errors give the line") {
  auto docs = parseDocuments("a: 1\nb: [unclosed\n");
  REQUIRE_FALSE(docs);
  CHECK_THAT(docs.error().message, Catch::StartsWith("line "));
}

TEST_CASE("text that is not UTF-8 is refused, not thrown") {
  auto docs = parseDocuments("a: \"\xff\xfe\"\n");
  REQUIRE_FALSE(docs);
  CHECK_THAT(docs.error().message, Catch::Contains("UTF-8"));
}

TEST_CASE("toYaml round-trips values whose text looks like another type") {
  const Json v = {{"port", "8080"},
                  {"flag", "true"},
                  {"nothing", "null"},
                  {"empty", ""},
                  {"n", 5},
                  {"list", {"-x", "a: b", "#c", " lead"}},
                  {"multi", "line one\nline two\n"},
                  {"obj", Json::object()},
                  {"arr", Json::array()},
                  {"f", 2.5},
                  {"b", false},
                  {"odd key: x", 1},
                  {"unicode", "caf\xc3\xa9"}};
  const std::string text = toYaml(v);
  auto back = parseDocuments(text);
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK((*back)[0] == v);
  CHECK(toYaml(v) == text);  // deterministic
}

TEST_CASE("hostile input is refused quickly, not looped on or expanded") {
  // yaml-cpp 0.7 loops forever on these; libyaml reports them.
  for (const char* text : {",\n", "- a\n,\n", "- b: 1\n  c: 2\n, x\n"}) {
    INFO(text);
    CHECK_FALSE(parseDocuments(text));
  }
  std::string deep(200, '[');
  CHECK_THAT(parseDocuments(deep + std::string(200, ']')).error().message, Catch::Contains("nesting"));
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c)
    laughs += std::string(1, c) + ": &" + c + " [*" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" +
              char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) + ", *" + char(c - 1) +
              ", *" + char(c - 1) + ", *" + char(c - 1) + "]\n";
  CHECK_THAT(parseDocuments(laughs).error().message, Catch::Contains("nodes"));
  CHECK_THAT(parseDocuments("a: 1\na: 2\n").error().message, Catch::Contains("duplicate key"));
}
