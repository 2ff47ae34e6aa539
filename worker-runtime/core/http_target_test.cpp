#include "core/http_target.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;

namespace {

HttpTarget parsed(const std::string& url) {
  auto t = parseHttpUrl(url);
  INFO(url);
  REQUIRE(t.ok());
  return *t;
}

}  // namespace

TEST_CASE("http URLs: scheme, host, port and Host header") {
  auto t = parsed("http://127.0.0.1:8080");
  CHECK_FALSE(t.tls);
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 8080);
  CHECK(t.hostHeader == "127.0.0.1:8080");
  CHECK(t.basePath.empty());
  CHECK(t.baseQuery.empty());

  t = parsed("https://localhost");
  CHECK(t.tls);
  CHECK(t.port == 443);
  CHECK(t.hostHeader == "localhost");

  CHECK(parsed("http://localhost").port == 80);

  t = parsed("http://[::1]:9000/");
  CHECK(t.host == "::1");
  CHECK(t.port == 9000);
  CHECK(t.hostHeader == "[::1]:9000");
  CHECK(t.basePath.empty());
}

TEST_CASE("http URLs: base path and query") {
  auto t = parsed("http://127.0.0.1:8080/api/v1/?tenant=a#frag");
  CHECK(t.basePath == "/api/v1");
  CHECK(t.baseQuery == "tenant=a");
}

TEST_CASE("http URLs: errors name the URL and the part") {
  CHECK(parseHttpUrl("ftp://x").error().message == "\"ftp://x\": scheme must be http or https");
  CHECK(parseHttpUrl("http://:80").error().message == "\"http://:80\": host is empty");
  CHECK(parseHttpUrl("http://h:0").error().message == "\"http://h:0\": port out of range");
  CHECK(parseHttpUrl("http://h:65536").error().message == "\"http://h:65536\": port out of range");
  CHECK(parseHttpUrl("http://h:8x").error().message == "\"http://h:8x\": port is not a number");
  CHECK(parseHttpUrl("http://[::1:80").error().message == "\"http://[::1:80\": unterminated IPv6 address");
  CHECK(parseHttpUrl("http://u:p@h").error().message == "\"http://u:p@h\": user info is not supported");
}

TEST_CASE("request targets join the base path and the route with one slash") {
  CHECK(requestTarget(parsed("http://h:1"), "/events/x") == "/events/x");
  CHECK(requestTarget(parsed("http://h:1/"), "/events/x") == "/events/x");
  CHECK(requestTarget(parsed("http://h:1/api"), "/events/x") == "/api/events/x");
  CHECK(requestTarget(parsed("http://h:1/api/"), "/events/x") == "/api/events/x");
  CHECK(requestTarget(parsed("http://h:1"), "/") == "/");
  CHECK(requestTarget(parsed("http://h:1/api"), "/") == "/api");
  CHECK(requestTarget(parsed("http://h:1/api?t=a"), "/x") == "/api/x?t=a");
  CHECK(requestTarget(parsed("http://h:1/api?t=a"), "/x?y=1") == "/api/x?t=a&y=1");
  CHECK(requestTarget(parsed("http://h:1"), "/x?y=1") == "/x?y=1");
}
