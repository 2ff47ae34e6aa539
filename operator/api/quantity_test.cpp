#include <catch2/catch.hpp>

#include "api/quantity.h"

using ew::api::parseQuantity;

TEST_CASE("quantities in every suffix family") {
  CHECK(*parseQuantity("100m") == Approx(0.1));
  CHECK(*parseQuantity("2") == Approx(2));
  CHECK(*parseQuantity("1.5") == Approx(1.5));
  CHECK(*parseQuantity("128Mi") == Approx(128.0 * 1024 * 1024));
  CHECK(*parseQuantity("1Gi") == Approx(1024.0 * 1024 * 1024));
  CHECK(*parseQuantity("1G") == Approx(1e9));
  CHECK(*parseQuantity("2e3") == Approx(2000));
  CHECK(*parseQuantity("1k") == Approx(1000));
  CHECK(*parseQuantity(".5") == Approx(0.5));
}

TEST_CASE("what is not a quantity") {
  for (const char* bad : {"", "abc", "1.2.3", "10 Mi", "1Mb", "1KI", "-", "1e99", "Mi"}) {
    INFO(bad);
    CHECK_FALSE(parseQuantity(bad));
  }
}
