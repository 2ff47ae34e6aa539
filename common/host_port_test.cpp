#include <catch2/catch.hpp>

#include "ew/host_port.h"

using ew::parseHostPort;

TEST_CASE("host:port with a name, an IPv4 or a bracketed IPv6 host") {
  auto a = parseHostPort("kafka.shop.svc:9092");
  REQUIRE(a);
  CHECK(a->host == "kafka.shop.svc");
  CHECK(a->port == 9092);
  auto b = parseHostPort("0.0.0.0:9090");
  REQUIRE(b);
  CHECK(b->host == "0.0.0.0");
  auto c = parseHostPort("[::1]:8080");
  REQUIRE(c);
  CHECK(c->host == "::1");
  CHECK(c->port == 8080);
}

TEST_CASE("host:port refusals say what is wrong") {
  CHECK(parseHostPort("kafka").error().message == "missing \":port\"");
  CHECK(parseHostPort(":9092").error().message == "missing host");
  CHECK(parseHostPort("kafka:").error().message == "port is not a number");
  CHECK(parseHostPort("kafka:90x2").error().message == "port is not a number");
  CHECK(parseHostPort("kafka:0").error().message == "port out of range (1..65535)");
  CHECK(parseHostPort("kafka:65536").error().message == "port out of range (1..65535)");
  CHECK(parseHostPort("::1:8080").error().message == "an IPv6 host must be in brackets ([::1]:port)");
}
