#include "ledger.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace ew::rttest {

Ledger::Ledger() {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(listenFd_, 256) == 0);
  socklen_t len = sizeof a;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

Ledger::~Ledger() {
  stop_.store(true);
  ::shutdown(listenFd_, SHUT_RDWR);
  ::close(listenFd_);
  acceptor_.join();
  std::vector<std::thread> conns;
  {
    std::lock_guard l(mu_);
    for (int fd : connFds_) ::shutdown(fd, SHUT_RDWR);
    conns.swap(conns_);
  }
  for (auto& t : conns) t.join();
}

void Ledger::setRespond(Respond respond) {
  std::lock_guard l(mu_);
  respond_ = std::move(respond);
}

void Ledger::acceptLoop() {
  while (!stop_.load()) {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stop_.load()) return;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connections_.fetch_add(1);
    std::lock_guard l(mu_);
    connFds_.push_back(fd);
    conns_.emplace_back([this, fd] { serve(fd); });
  }
}

void Ledger::serve(int fd) {
  std::string buf;
  char chunk[65536];
  for (int replies = 1;; ++replies) {
    size_t headerEnd;
    while ((headerEnd = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
    }
    const std::string head = buf.substr(0, headerEnd);
    size_t contentLength = 0;
    std::istringstream hs(head);
    std::string line, method, path;
    std::getline(hs, line);
    std::istringstream(line) >> method >> path;
    while (std::getline(hs, line)) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (name == "content-length") contentLength = std::stoul(line.substr(colon + 1));
    }
    while (buf.size() < headerEnd + 4 + contentLength) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
    }
    const std::string body = buf.substr(headerEnd + 4, contentLength);
    buf.erase(0, headerEnd + 4 + contentLength);
    const int status = method == "POST" ? handle(path, body) : 200;
    const int every = closeEvery_.load();
    const bool last = every > 0 && replies % every == 0;
    const std::string resp = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n" +
                             (last && announceClose_.load() ? "Connection: close\r\n" : "") + "\r\n";
    if (::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL) < 0) return;
    if (last) {
      ::shutdown(fd, SHUT_RDWR);  // the fd itself is closed by the destructor
      return;
    }
  }
}

int Ledger::handle(const std::string& path, const std::string& body) {
  LedgerEntry e;
  e.route = path;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (j.contains("id") && j["id"].is_string()) e.id = j["id"];
    auto d = j.find("data");
    if (d != j.end() && d->is_object()) {
      if (d->contains("key") && (*d)["key"].is_string()) e.key = (*d)["key"];
      if (d->contains("seq") && (*d)["seq"].is_number_integer()) e.seq = (*d)["seq"];
    }
  }
  Respond respond;
  {
    std::lock_guard l(mu_);
    if (!e.key.empty() && inFlight_[e.key]++ > 0) overlaps_.fetch_add(1);
    e.attempt = ++attempts_[e.id];
    respond = respond_;
  }
  if (auto us = delayUs_.load()) std::this_thread::sleep_for(std::chrono::microseconds(us));
  const int status = respond ? respond(e) : 200;
  e.at = std::chrono::steady_clock::now();
  std::lock_guard l(mu_);
  if (!e.key.empty()) --inFlight_[e.key];
  if (status >= 200 && status < 300) {
    ids_.insert(e.id);
  }
  entries_.push_back(std::move(e));
  return status;
}

std::vector<LedgerEntry> Ledger::entries() const {
  std::lock_guard l(mu_);
  return entries_;
}

size_t Ledger::count() const {
  std::lock_guard l(mu_);
  return entries_.size();
}

size_t Ledger::distinct() const {
  std::lock_guard l(mu_);
  return ids_.size();
}

int Ledger::attempts(const std::string& id) const {
  std::lock_guard l(mu_);
  auto it = attempts_.find(id);
  return it == attempts_.end() ? 0 : it->second;
}

bool Ledger::waitFor(const std::function<bool(const Ledger&)>& pred, std::chrono::seconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(*this)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred(*this);
}

}  // namespace ew::rttest
