#include "core/handler.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;

TEST_CASE("Dapr's reply contract") {
  CHECK(interpretHttpReply(200, "").outcome == Outcome::Done);
  CHECK(interpretHttpReply(204, "").outcome == Outcome::Done);
  CHECK(interpretHttpReply(200, R"({"status":"SUCCESS"})").outcome == Outcome::Done);
  CHECK(interpretHttpReply(200, R"({"status":"RETRY"})").outcome == Outcome::Retry);
  CHECK(interpretHttpReply(200, R"({"status":"DROP"})").outcome == Outcome::Reject);
  CHECK(interpretHttpReply(200, "ok").outcome == Outcome::Done);
  CHECK(interpretHttpReply(404, "").outcome == Outcome::Reject);
  CHECK(interpretHttpReply(500, "").outcome == Outcome::Retry);
  CHECK(interpretHttpReply(429, "").outcome == Outcome::Retry);
  CHECK(interpretHttpReply(400, "").outcome == Outcome::Retry);
  CHECK(interpretHttpReply(500, "").detail == "HTTP 500");
}

TEST_CASE("exec exit codes") {
  CHECK(interpretExitCode(0).outcome == Outcome::Done);
  CHECK(interpretExitCode(75).outcome == Outcome::Retry);
  CHECK(interpretExitCode(1).outcome == Outcome::Reject);
  CHECK(interpretExitCode(137).outcome == Outcome::Reject);
}
