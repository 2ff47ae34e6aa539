#include "autoscale/trace.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;

TEST_CASE("parseTrace reads rows, skips a header, comments and blank lines") {
  auto trace = parseTrace("t_seconds,produce_rate\n# flash burst\n\n0,100\n299,100\n300, 1000\n600,0\n");
  REQUIRE(trace.ok());
  REQUIRE(trace->size() == 4);
  CHECK((*trace)[2].t == 300);
  CHECK((*trace)[2].rate == 1000);
  CHECK(traceSeconds(*trace) == 600);
}

TEST_CASE("parseTrace names the line of each error") {
  auto error = [](const std::string& csv) {
    auto t = parseTrace(csv);
    return t.ok() ? std::string("ok") : t.error().message;
  };
  CHECK(error("") == "no rows: expected t_seconds,produce_rate");
  CHECK(error("t,rate\n") == "no rows: expected t_seconds,produce_rate");
  CHECK(error("0,1\n5\n") == "line 2: expected t_seconds,produce_rate");
  CHECK(error("0,1\nx,2\n") == "line 2: t_seconds must be a number >= 0");
  CHECK(error("0,1\n-5,2\n") == "line 2: t_seconds must be a number >= 0");
  CHECK(error("0,1\n5,-2\n") == "line 2: produce_rate must be a number >= 0");
  CHECK(error("0,1\n5,fast\n") == "line 2: produce_rate must be a number >= 0");
  CHECK(error("0,1\n5,2\n5,3\n") == "line 3: t_seconds must increase");
}

TEST_CASE("rateAt interpolates linearly and holds the ends") {
  auto trace = parseTrace("10,100\n20,200\n21,0\n");
  REQUIRE(trace.ok());
  CHECK(rateAt(*trace, 0) == 100);
  CHECK(rateAt(*trace, 10) == 100);
  CHECK(rateAt(*trace, 15) == Approx(150));
  CHECK(rateAt(*trace, 20.5) == Approx(100));
  CHECK(rateAt(*trace, 99) == 0);
}
