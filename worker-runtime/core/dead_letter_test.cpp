#include "core/dead_letter.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;

TEST_CASE("dead-letter headers keep the original headers and add origin and reason") {
  Message m;
  m.tp = {"orders", 4};
  m.offset = 99;
  m.headers = {{"traceparent", "00-abc"}};
  auto h = deadLetterHeaders(m, 5, DeadLetterReason::Exhausted, std::string(5000, 'e'), "w", "s");
  auto get = [&](const std::string& k) {
    for (const auto& [key, v] : h)
      if (key == k) return v;
    FAIL("no header " << k);
    return std::string();
  };
  CHECK(h[0].first == "traceparent");
  CHECK(get("ew-origin-topic") == "orders");
  CHECK(get("ew-origin-partition") == "4");
  CHECK(get("ew-origin-offset") == "99");
  CHECK(get("ew-attempts") == "5");
  CHECK(get("ew-reason") == "exhausted");
  CHECK(get("ew-error").size() == kMaxErrorHeaderBytes);
  CHECK(get("ew-subscription") == "s");
}
