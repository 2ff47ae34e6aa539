#include "clients/http_connection.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <optional>

namespace ew::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct HttpClientContext {
  explicit HttpClientContext(HttpTarget t) : target(std::move(t)) {}
  const HttpTarget target;
  asio::io_context io{1};
  std::optional<asio::ssl::context> tls;
};

Result<HttpClientContextPtr> makeHttpClientContext(const HttpTarget& target) {
  auto c = std::make_shared<HttpClientContext>(target);
  if (target.tls) {
    error_code ec;
    c->tls.emplace(asio::ssl::context::tls_client);
    c->tls->set_default_verify_paths(ec);
    if (ec) return Error{"https " + target.hostHeader + ": trust store: " + ec.message()};
    c->tls->set_verify_mode(asio::ssl::verify_peer);
  }
  return c;
}

namespace {

using Clock = HttpConnection::Clock;

// Largest reply body read; a larger one fails the call (and so is retried).
constexpr uint64_t kMaxReplyBytes = 8 << 20;
constexpr std::string_view kUserAgent = "eventworker-runtime";

// Waits with poll(2) until FD is ready for EVENTS or DEADLINE passes
// (asio::error::timed_out). POLLERR/POLLHUP count as ready: the next read or
// write reports what happened.
bool waitReady(int fd, short events, Clock::time_point deadline, error_code& ec) {
  for (;;) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      ec = asio::error::timed_out;
      return false;
    }
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 60'000)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) {
      ec = error_code(errno, boost::system::system_category());
      return false;
    }
  }
}

// A TCP socket in non-blocking mode whose blocking reads and writes (Beast's
// SyncReadStream and SyncWriteStream, and the next layer of an ssl::stream)
// wait with poll(2), never past *DEADLINE. Reads wait first (a reply is
// rarely there the moment the request left); writes try first.
class DeadlineSocket {
 public:
  using lowest_layer_type = tcp::socket;
  using executor_type = tcp::socket::executor_type;

  DeadlineSocket(asio::io_context& io, const Clock::time_point* deadline) : socket_(io), deadline_(deadline) {}

  executor_type get_executor() { return socket_.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_; }
  const lowest_layer_type& lowest_layer() const { return socket_; }

  template <class Buffers>
  size_t read_some(const Buffers& buffers, error_code& ec) {
    if (asio::buffer_size(buffers) == 0) return 0;
    for (;;) {
      if (!waitReady(socket_.native_handle(), POLLIN, *deadline_, ec)) return 0;
      const size_t n = socket_.read_some(buffers, ec);
      if (ec != asio::error::would_block) return n;
    }
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, error_code& ec) {
    for (;;) {
      const size_t n = socket_.write_some(buffers, ec);
      if (ec != asio::error::would_block) return n;
      if (!waitReady(socket_.native_handle(), POLLOUT, *deadline_, ec)) return 0;
    }
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    error_code ec;
    const size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // Opens a non-blocking TCP_NODELAY socket and connects it to EP by *DEADLINE
  // (asio's own connect would wait without a bound).
  void connect(const tcp::endpoint& ep, error_code& ec) {
    socket_.open(ep.protocol(), ec);
    if (!ec) socket_.non_blocking(true, ec);
    // Requests go out as one write, but a reply to a small write must not wait for delayed ACKs.
    if (!ec) socket_.set_option(tcp::no_delay(true), ec);
    if (ec) return;
    const int fd = socket_.native_handle();
    if (::connect(fd, ep.data(), static_cast<socklen_t>(ep.size())) == 0) return;
    if (errno != EINPROGRESS) {
      ec = error_code(errno, boost::system::system_category());
      return;
    }
    if (!waitReady(fd, POLLOUT, *deadline_, ec)) return;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err) ec = error_code(err, boost::system::system_category());
  }

 private:
  tcp::socket socket_;
  const Clock::time_point* deadline_;
};

bool isIpLiteral(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct HttpConnection::Impl {
  explicit Impl(HttpClientContextPtr c) : context(std::move(c)), target(context->target) {}

  bool isOpen() const { return plain.has_value() || tls.has_value(); }

  void close() {
    // No TLS close_notify: the peer sees the TCP close, as after a timeout.
    plain.reset();
    tls.reset();
    buffer.clear();
    exchanges = 0;
  }

  Error fail(int code, const std::string& what, const error_code& ec) {
    close();
    const bool timedOut = ec == asio::error::timed_out;
    return Error{(target.tls ? "https " : "http ") + target.hostHeader + ": " + what + ": " +
                     (timedOut ? std::string("timed out") : ec.message()),
                 timedOut ? kHttpTimeout : code};
  }

  Status connect() {
    error_code ec;
    tcp::resolver resolver(context->io);
    const auto endpoints = resolver.resolve(target.host, std::to_string(target.port), ec);
    if (ec) return fail(kHttpFailed, "resolve", ec);
    for (const auto& e : endpoints) {
      DeadlineSocket s(context->io, &deadline);
      s.connect(e.endpoint(), ec);
      if (ec == asio::error::timed_out) break;
      if (ec) continue;
      if (!context->tls) {
        plain.emplace(std::move(s));
        return {};
      }
      tls.emplace(std::move(s), *context->tls);
      if (!isIpLiteral(target.host) && !SSL_set_tlsext_host_name(tls->native_handle(), target.host.c_str()))
        return fail(kHttpFailed, "TLS server name", asio::error::invalid_argument);
      tls->set_verify_callback(asio::ssl::host_name_verification(target.host));
      tls->handshake(asio::ssl::stream_base::client, ec);
      if (ec) return fail(kHttpFailed, "TLS handshake", ec);
      return {};
    }
    return fail(kHttpFailed, "connect", ec ? ec : asio::error::host_not_found);
  }

  template <class Stream>
  void roundTrip(Stream& s, const http::request<http::span_body<const char>>& req,
                 http::response_parser<http::string_body>& parser, bool headerOnly, error_code& ec, bool& wrote) {
    http::write(s, req, ec);
    if (ec) return;
    wrote = true;
    if (headerOnly)
      http::read_header(s, buffer, parser, ec);
    else
      http::read(s, buffer, parser, ec);
  }

  Result<HttpReply> exchange(const HttpRequestView& r, Clock::time_point d, bool headerOnly) {
    deadline = d;
    const bool reused = isOpen() && exchanges > 0;
    if (!isOpen())
      if (auto st = connect(); !st) return st.error();

    http::request<http::span_body<const char>> req;
    req.method_string(beast::string_view(r.method.data(), r.method.size()));
    req.target(beast::string_view(r.target.data(), r.target.size()));
    req.version(11);
    req.set(http::field::host, target.hostHeader);
    req.set(http::field::user_agent, beast::string_view(kUserAgent.data(), kUserAgent.size()));
    if (!r.contentType.empty())
      req.set(http::field::content_type, beast::string_view(r.contentType.data(), r.contentType.size()));
    if (r.headers)
      for (const auto& [k, v] : *r.headers) req.insert(k, v);
    req.body() = beast::span<const char>(r.body.data(), r.body.size());
    req.prepare_payload();

    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxReplyBytes);
    error_code ec;
    bool wrote = false;
    if (tls)
      roundTrip(*tls, req, parser, headerOnly, ec, wrote);
    else
      roundTrip(*plain, req, parser, headerOnly, ec, wrote);
    if (ec) {
      // A server may close a kept-alive connection at any time; seen before any
      // reply byte, that is no answer to this request.
      const bool closedIdle = reused && !parser.got_some() &&
                              (ec == asio::error::eof || ec == http::error::end_of_stream ||
                               ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
      return fail(closedIdle ? kHttpClosedIdle : kHttpFailed,
                  std::string(r.method) + " " + std::string(r.target) + (wrote ? "" : " (sending)"), ec);
    }
    ++exchanges;
    auto& res = parser.get();
    HttpReply reply{static_cast<int>(res.result_int()), headerOnly ? std::string() : std::move(res.body())};
    // Bytes past the reply would be taken for the next reply: start afresh.
    if (headerOnly || !res.keep_alive() || buffer.size() != 0) close();
    return reply;
  }

  const HttpClientContextPtr context;
  const HttpTarget& target;
  Clock::time_point deadline;  // of the call in progress; read by the sockets
  std::optional<DeadlineSocket> plain;
  std::optional<asio::ssl::stream<DeadlineSocket>> tls;
  beast::flat_buffer buffer;
  uint64_t exchanges = 0;  // completed on this connection since it was opened
};

HttpConnection::HttpConnection(HttpClientContextPtr context) : impl_(std::make_unique<Impl>(std::move(context))) {}
HttpConnection::~HttpConnection() = default;

Result<HttpReply> HttpConnection::exchange(const HttpRequestView& request, Clock::time_point deadline,
                                           bool headerOnly) {
  return impl_->exchange(request, deadline, headerOnly);
}

bool HttpConnection::isOpen() const { return impl_->isOpen(); }

}  // namespace ew::runtime
