#include "streams/sse_server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <thread>

#include "ew/host_port.h"
#include "streams/sse_session.h"

namespace ew::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct SseServer::Impl {
  explicit Impl(SseServerOptions o) : options(std::move(o)) {
    context.routes = options.routes;
    context.catchUps = options.catchUps;
  }

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!ec) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<SseSession>(std::move(socket), context)->start();
      }
      accept();
    });
  }

  // Every open session (copied out of the registry).
  std::vector<std::shared_ptr<SseSession>> open() {
    std::vector<std::shared_ptr<SseSession>> out;
    std::lock_guard l(context.mu);
    for (auto& [raw, weak] : context.registry)
      if (auto s = weak.lock()) out.push_back(std::move(s));
    return out;
  }

  void closeAcceptor() {
    std::promise<void> closed;
    asio::post(acceptor.get_executor(), [&] {
      error_code ignored;
      acceptor.close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();
  }

  SseServerOptions options;
  SessionContext context;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(io)};
  std::vector<std::thread> threads;
  int port = 0;
  bool accepting = false;
};

SseServer::SseServer(SseServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

SseServer::~SseServer() { stop(); }

Status SseServer::bind() {
  Impl& s = *impl_;
  auto hp = parseHostPort(s.options.address);
  if (!hp) return Error{"streams listener " + s.options.address + ": " + hp.error().message};
  error_code ec;
  const auto address = asio::ip::make_address(hp->host, ec);
  if (ec) return Error{"streams listener " + s.options.address + ": " + ec.message()};
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(hp->port));
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"streams listener " + s.options.address + ": " + ec.message()};
  s.port = s.acceptor.local_endpoint().port();
  return {};
}

int SseServer::port() const { return impl_->port; }

void SseServer::startAccepting() {
  Impl& s = *impl_;
  if (s.accepting) return;
  s.accepting = true;
  s.work.emplace(s.io.get_executor());
  s.accept();
  for (size_t i = 0; i < std::max<size_t>(1, s.options.threads); ++i) s.threads.emplace_back([&s] { s.io.run(); });
}

size_t SseServer::drain(std::chrono::steady_clock::time_point deadline) {
  Impl& s = *impl_;
  s.context.draining.store(true);
  if (!s.accepting) return 0;
  s.closeAcceptor();
  for (auto& session : s.open()) session->drain(deadline);
  for (;;) {
    const size_t left = sessions();
    if (left == 0 || std::chrono::steady_clock::now() >= deadline) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void SseServer::stop() {
  Impl& s = *impl_;
  if (!s.accepting) return;
  s.closeAcceptor();
  for (auto& session : s.open()) session->close();
  s.work.reset();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.accepting = false;
}

size_t SseServer::sessions() const {
  std::lock_guard l(impl_->context.mu);
  return impl_->context.registry.size();
}

}  // namespace ew::runtime
