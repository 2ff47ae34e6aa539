// The http handler's client against a local HTTP/1.1 server (the ledger):
// keep-alive reuse, servers that close connections, stalls past the timeout,
// the connection bound, the reply contract, the readiness probe, and https
// against a local TLS server.
#include <stdlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <thread>

#include "clients/http_handler.h"
#include "runtime_harness.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using ew::runtime::HandlerRequest;
using ew::runtime::HttpHandler;
using ew::runtime::HttpHandlerConfig;
using ew::runtime::Outcome;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

HttpHandlerConfig configFor(int port, std::chrono::milliseconds timeout = 5s, int maxConnections = 16) {
  HttpHandlerConfig c;
  c.url = "http://127.0.0.1:" + std::to_string(port);
  c.timeout = timeout;
  c.maxConnections = maxConnections;
  return c;
}

HandlerRequest event(int seq, const std::string& key = "k") {
  HandlerRequest r;
  r.route = "/events/x";
  r.eventId = "id-" + key + "-" + std::to_string(seq);
  r.body =
      R"({"specversion":"1.0","id":")" + r.eventId + R"(","source":"t","type":"t","data":)" + payload(key, seq) + "}";
  r.headers = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
  return r;
}

}  // namespace

TEST_CASE("calls reuse one kept-alive connection") {
  Ledger ledger;
  HttpHandler h(configFor(ledger.port()));
  for (int i = 0; i < 200; ++i) REQUIRE(h.handle(event(i)).outcome == Outcome::Done);
  CHECK(ledger.count() == 200);
  CHECK(ledger.connections() == 1);
  const auto entries = ledger.entries();
  CHECK(entries.front().route == "/events/x");
  CHECK(entries.back().id == "id-k-199");
}

TEST_CASE("a server that closes the connection after every 3rd reply: every call succeeds once") {
  for (const bool announce : {false, true}) {
    INFO("announced with Connection: close: " << announce);
    Ledger ledger;
    ledger.setCloseEvery(3, announce);
    HttpHandler h(configFor(ledger.port()));
    for (int i = 0; i < 60; ++i) {
      const auto r = h.handle(event(i));
      INFO(r.detail);
      REQUIRE(r.outcome == Outcome::Done);
    }
    CHECK(ledger.count() == 60);  // nothing sent twice to the server
    CHECK(ledger.connections() == 20);
  }
}

TEST_CASE("a call that stalls past the timeout is a retry, and the next call gets a fresh connection") {
  Ledger ledger;
  std::atomic<int> calls{0};
  ledger.setRespond([&](const LedgerEntry&) {
    if (calls++ == 1) std::this_thread::sleep_for(1500ms);
    return 200;
  });
  HttpHandler h(configFor(ledger.port(), 300ms));
  REQUIRE(h.handle(event(0)).outcome == Outcome::Done);
  const auto t0 = std::chrono::steady_clock::now();
  const auto stalled = h.handle(event(1));
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(stalled.outcome == Outcome::Retry);
  CHECK_THAT(stalled.detail, Catch::Matchers::Contains("timed out"));
  CHECK(took >= 290ms);
  CHECK(took < 1000ms);
  REQUIRE(h.handle(event(1)).outcome == Outcome::Done);
  CHECK(ledger.connections() == 2);
}

TEST_CASE("no more than maxConnections connections, however many callers") {
  Ledger ledger;
  ledger.setDelay(2ms);
  HttpHandler h(configFor(ledger.port(), 5s, 3));
  std::vector<std::thread> callers;
  std::atomic<int> done{0};
  for (int t = 0; t < 8; ++t)
    callers.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i)
        if (h.handle(event(i, "t" + std::to_string(t))).outcome == Outcome::Done) ++done;
    });
  for (auto& c : callers) c.join();
  CHECK(done == 200);
  CHECK(ledger.connections() <= 3);
}

TEST_CASE("a caller waits for a free connection no longer than its timeout") {
  Ledger ledger;
  ledger.setDelay(1s);
  HttpHandler h(configFor(ledger.port(), 300ms, 1));
  std::thread busy([&] { h.handle(event(0)); });
  std::this_thread::sleep_for(100ms);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = h.handle(event(1));
  const auto took = std::chrono::steady_clock::now() - t0;
  busy.join();
  CHECK(r.outcome == Outcome::Retry);
  CHECK(took < 600ms);
}

TEST_CASE("replies map through Dapr's contract and refused connections are retries") {
  Ledger ledger;
  ledger.setRespond([](const LedgerEntry& e) { return e.seq == 1 ? 500 : e.seq == 2 ? 404 : 200; });
  HttpHandler h(configFor(ledger.port()));
  CHECK(h.handle(event(0)).outcome == Outcome::Done);
  const auto r500 = h.handle(event(1));
  CHECK(r500.outcome == Outcome::Retry);
  CHECK(r500.detail == "HTTP 500");
  CHECK(h.handle(event(2)).outcome == Outcome::Reject);
  CHECK(h.reachable());

  HttpHandler down(configFor(freePort()));
  const auto refused = down.handle(event(0));
  CHECK(refused.outcome == Outcome::Retry);
  CHECK_THAT(refused.detail, Catch::Matchers::Contains("connect"));
  CHECK_FALSE(down.reachable());
}

namespace {

// A one-connection-at-a-time HTTPS server on 127.0.0.1 answering 200 to every
// request, with a certificate made for the test (trusted through SSL_CERT_FILE).
class TlsServer {
 public:
  explicit TlsServer(const std::string& dir) : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
        " -addext subjectAltName=DNS:localhost -keyout " +
        dir + "/key.pem -out " + dir + "/cert.pem 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    tls_.use_certificate_chain_file(dir + "/cert.pem");
    tls_.use_private_key_file(dir + "/key.pem", asio::ssl::context::pem);
    thread_ = std::thread([this] { serve(); });
  }
  ~TlsServer() {
    stop_ = true;
    // Closing the acceptor from this thread does not wake a blocking accept()
    // in serve() (it hung the test once, for ctest's 300 s): one connection
    // does, and serve() then sees stop_.
    boost::system::error_code ec;
    {
      asio::io_context io;
      asio::ip::tcp::socket wake(io);
      wake.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port())}, ec);
    }
    thread_.join();
    acceptor_.close(ec);
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  int requests() const { return requests_.load(); }

 private:
  void serve() {
    while (!stop_) {
      boost::system::error_code ec;
      asio::ssl::stream<asio::ip::tcp::socket> s(io_, tls_);
      acceptor_.accept(s.next_layer(), ec);
      if (ec) return;
      s.handshake(asio::ssl::stream_base::server, ec);
      beast::flat_buffer buffer;
      while (!ec) {
        http::request<http::string_body> req;
        http::read(s, buffer, req, ec);
        if (ec) break;
        ++requests_;
        http::response<http::string_body> res{http::status::ok, 11};
        res.body() = R"({"status":"SUCCESS"})";
        res.prepare_payload();
        http::write(s, res, ec);
      }
    }
  }

  asio::io_context io_;
  asio::ssl::context tls_{asio::ssl::context::tls_server};
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("https verifies the server certificate and host name and calls share a connection") {
  char dir[] = "/tmp/ew-tls-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  TlsServer server(dir);
  ::setenv("SSL_CERT_FILE", (std::string(dir) + "/cert.pem").c_str(), 1);
  HttpHandlerConfig c = configFor(server.port());
  c.url = "https://localhost:" + std::to_string(server.port());
  HttpHandler h(c);
  for (int i = 0; i < 20; ++i) {
    const auto r = h.handle(event(i));
    INFO(r.detail);
    REQUIRE(r.outcome == Outcome::Done);
  }
  CHECK(server.requests() == 20);

  // The certificate names localhost only.
  c.url = "https://127.0.0.1:" + std::to_string(server.port());
  HttpHandler wrongName(c);
  const auto r = wrongName.handle(event(0));
  CHECK(r.outcome == Outcome::Retry);
  CHECK_THAT(r.detail, Catch::Matchers::Contains("TLS handshake"));
  ::unsetenv("SSL_CERT_FILE");
  std::system(("rm -rf " + std::string(dir)).c_str());
}
