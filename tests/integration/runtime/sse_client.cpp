#include "sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace ew::rttest {

SseClient::SseClient(int port, const std::string& path, const std::map<std::string, std::string>& headers, int rcvbuf)
    : SseClient("127.0.0.1", port, path, headers, rcvbuf) {}

SseClient::SseClient(const std::string& host, int port, const std::string& path,
                     const std::map<std::string, std::string>& headers, int rcvbuf) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 ||
      ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    eof_ = true;
    return;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/event-stream\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  (void)!::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
}

SseClient::~SseClient() { close(); }

void SseClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SseClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_ || fd_ < 0) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(chunk, static_cast<size_t>(n));
  return true;
}

int SseClient::status(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!headerRead_) {
    const size_t end = buf_.find("\r\n\r\n");
    if (end != std::string::npos) {
      status_ = std::stoi(buf_.substr(9, 3));
      buf_.erase(0, end + 4);
      headerRead_ = true;
      break;
    }
    if (!fill(deadline)) return 0;
  }
  return status_;
}

std::optional<SseEvent> SseClient::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!headerRead_ && status(timeout) == 0) return std::nullopt;
  for (;;) {
    // Dispatch on a blank line; a block of comments or retry only is no event.
    for (size_t end; (end = buf_.find("\n\n")) != std::string::npos;) {
      const std::string block = buf_.substr(0, end + 1);
      buf_.erase(0, end + 2);
      SseEvent e;
      bool any = false;
      for (size_t pos = 0; pos < block.size();) {
        const size_t nl = block.find('\n', pos);
        const std::string line = block.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) continue;
        if (line[0] == ':') {
          ++comments_;
          continue;
        }
        const size_t colon = line.find(':');
        const std::string field = line.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        if (field == "retry") {
          retry_ = std::stoi(value);
        } else if (field == "id") {
          e.id = value, any = true;
        } else if (field == "event") {
          e.event = value, any = true;
        } else if (field == "data") {
          e.data += (e.data.empty() ? "" : "\n") + value, any = true;
        }
      }
      if (any) return e;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::vector<SseEvent> SseClient::take(size_t count, std::chrono::milliseconds timeout) {
  std::vector<SseEvent> out;
  while (out.size() < count) {
    auto e = next(timeout);
    if (!e) break;
    out.push_back(std::move(*e));
  }
  return out;
}

TokenServer::TokenServer(std::string good) : good_(std::move(good)) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listenFd_, 64) != 0)
    throw std::runtime_error("token server: cannot listen");
  socklen_t len = sizeof a;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      pollfd p{listenFd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept(listenFd_, nullptr, nullptr);
      if (c < 0) continue;
      // One request per connection, answered with Connection: close.
      std::string req;
      char chunk[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        const ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        req.append(chunk, static_cast<size_t>(n));
      }
      ++calls_;
      const bool ok = req.find("\r\nAuthorization: Bearer " + good_ + "\r\n") != std::string::npos ||
                      req.find("\r\nauthorization: Bearer " + good_ + "\r\n") != std::string::npos;
      const std::string reply = ok ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                   : "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  });
}

TokenServer::~TokenServer() {
  stop_.store(true);
  thread_.join();
  ::close(listenFd_);
}

}  // namespace ew::rttest
