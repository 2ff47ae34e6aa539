#include "ew/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ew {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::chrono::seconds kWriteTimeout{30};

// What reply functions share with the server: once stopped, they do nothing
// (so none touches a session or the I/O context after stop()).
struct ReplyGate {
  std::mutex mu;
  bool stopped = false;  // guarded by mu
};

std::string endpointText(const std::string& address, int port) {
  return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

class HttpSession;

struct HttpServer::Impl {
  Impl(HttpServerOptions o, HttpServerHandler h) : options(std::move(o)), handler(std::move(h)) {}

  void accept();
  // Keeps SESSION alive while its connection is open (it may wait for a reply
  // with no I/O pending); forget() ends that.
  void remember(const std::shared_ptr<HttpSession>& session);
  void forget(HttpSession* session);

  const HttpServerOptions options;
  const HttpServerHandler handler;
  const std::shared_ptr<ReplyGate> gate = std::make_shared<ReplyGate>();
  std::atomic<size_t> pending{0};
  int port = 0;
  asio::io_context io;  // first member: outlives everything that refers to it
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(io)};
  std::vector<std::thread> threads;
  std::mutex mu;  // guards sessions
  std::unordered_map<HttpSession*, std::shared_ptr<HttpSession>> sessions;
};

// One connection. Every step runs on the connection's strand.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {}

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  void close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  auto executor() { return stream_.get_executor(); }

  void write(HttpServerReply reply) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(reply.status));
    response_.set(http::field::server, "eventworker-runtime");
    if (!reply.contentType.empty()) response_.set(http::field::content_type, reply.contentType);
    response_.body() = std::move(reply.body);
    response_.keep_alive(keepAlive_ && !reply.close);
    response_.prepare_payload();
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, response_, beast::bind_front_handler(&HttpSession::onWrite, shared_from_this()));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options.maxBodyBytes);
    stream_.expires_after(server_.options.idleTimeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::onRead, shared_from_this()));
  }

  void onRead(error_code ec, size_t) {
    const bool tooLarge = ec == http::error::body_limit;
    if (ec && !tooLarge) {  // closed by the peer, idle too long, not HTTP, or stopped
      close();
      server_.forget(this);
      return;
    }
    auto& req = parser_->get();
    HttpServerRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.contentType = std::string(req[http::field::content_type]);
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      r.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    r.bodyTooLarge = tooLarge;
    if (!tooLarge) r.body = std::move(req.body());
    keepAlive_ = !tooLarge && req.keep_alive();
    ++server_.pending;
    stream_.expires_never();  // the reply may take as long as the work
    HttpReplyFn reply = [gate = server_.gate, weak = weak_from_this()](HttpServerReply rep) {
      std::lock_guard l(gate->mu);
      if (gate->stopped) return;
      if (auto self = weak.lock())
        asio::post(self->executor(), [self, rep = std::move(rep)]() mutable { self->write(std::move(rep)); });
    };
    server_.handler(std::move(r), std::move(reply));
  }

  void onWrite(error_code ec, size_t) {
    --server_.pending;
    if (ec || !response_.keep_alive()) {
      close();
      server_.forget(this);
      return;
    }
    read();
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool keepAlive_ = true;
};

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;  // stopAccepting()
    if (!ec) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto session = std::make_shared<HttpSession>(std::move(socket), *this);
      remember(session);
      session->start();
    }
    accept();
  });
}

void HttpServer::Impl::remember(const std::shared_ptr<HttpSession>& session) {
  std::lock_guard l(mu);
  sessions.emplace(session.get(), session);
}

void HttpServer::Impl::forget(HttpSession* session) {
  std::shared_ptr<HttpSession> last;  // destroyed after the lock is released
  std::lock_guard l(mu);
  if (auto it = sessions.find(session); it != sessions.end()) {
    last = std::move(it->second);
    sessions.erase(it);
  }
}

HttpServer::HttpServer(HttpServerOptions options, HttpServerHandler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  Impl& s = *impl_;
  const std::string where = endpointText(s.options.address, s.options.port);
  error_code ec;
  const auto address = asio::ip::make_address(s.options.address, ec);
  if (ec) return Error{"listen on " + where + ": " + ec.message()};
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(s.options.port));
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    s.acceptor.close(ignored);
    return Error{"listen on " + where + ": " + ec.message()};
  }
  s.port = s.acceptor.local_endpoint().port();
  s.work.emplace(s.io.get_executor());
  s.accept();
  for (size_t i = 0; i < std::max<size_t>(1, s.options.threads); ++i) s.threads.emplace_back([&s] { s.io.run(); });
  return {};
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::stopAccepting() {
  Impl& s = *impl_;
  if (s.threads.empty()) return;
  std::promise<void> closed;
  asio::post(s.acceptor.get_executor(), [&] {
    error_code ignored;
    s.acceptor.close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();
}

size_t HttpServer::pending() const { return impl_->pending.load(); }

void HttpServer::stop() {
  Impl& s = *impl_;
  if (s.threads.empty()) return;
  {
    std::lock_guard l(s.gate->mu);
    s.gate->stopped = true;
  }
  stopAccepting();
  {
    std::lock_guard l(s.mu);
    for (auto& [raw, session] : s.sessions) asio::post(session->executor(), [session = session] { session->close(); });
  }
  // With every socket closed, every operation ends and the threads return.
  s.work.reset();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  std::lock_guard l(s.mu);
  s.sessions.clear();
}

}  // namespace ew
