#include "kube/json_stream.h"

#include <catch2/catch.hpp>

#include <vector>

using ew::kube::JsonStreamSplitter;

namespace {
std::vector<std::string> drain(JsonStreamSplitter& s) {
  std::vector<std::string> out;
  std::string v;
  while (s.next(v)) out.push_back(v);
  return out;
}
}  // namespace

TEST_CASE("values cut at every possible byte boundary come out whole") {
  const std::string stream = R"({"type":"ADDED","object":{"a":"}{ \" ]"}})"
                             "\n"
                             R"({"type":"BOOKMARK","object":[1,{"b":[]}]})"
                             "\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    JsonStreamSplitter s;
    REQUIRE(s.feed(stream.substr(0, cut)));
    REQUIRE(s.feed(stream.substr(cut)));
    auto values = drain(s);
    REQUIRE(values.size() == 2);
    CHECK(values[0] == R"({"type":"ADDED","object":{"a":"}{ \" ]"}})");
    CHECK(values[1] == R"({"type":"BOOKMARK","object":[1,{"b":[]}]})");
    CHECK(s.buffered() == 0);
  }
}

TEST_CASE("several values in one chunk, byte by byte, and a partial tail") {
  JsonStreamSplitter s;
  for (char c : std::string(R"({"x":1}{"y":"\\"}  {"z":)")) REQUIRE(s.feed(std::string_view(&c, 1)));
  auto values = drain(s);
  REQUIRE(values.size() == 2);
  CHECK(values[1] == R"({"y":"\\"})");
  CHECK(s.buffered() == 5);  // {"z": waits for the rest
}

TEST_CASE("garbage between values and oversized values fail the stream") {
  JsonStreamSplitter garbage;
  CHECK_FALSE(garbage.feed(R"({"a":1} oops)"));
  CHECK(garbage.failed());
  CHECK_FALSE(garbage.feed("{}"));

  JsonStreamSplitter small(8);
  CHECK_FALSE(small.feed(R"({"a":"123456"})"));
}
