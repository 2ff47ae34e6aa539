#include "core/http_target.h"

#include <cctype>

namespace ew::runtime {

namespace {

Error bad(const std::string& url, const std::string& why) { return Error{"\"" + url + "\": " + why}; }

}  // namespace

Result<HttpTarget> parseHttpUrl(const std::string& url) {
  HttpTarget t;
  size_t at;
  if (url.rfind("http://", 0) == 0) {
    at = 7;
  } else if (url.rfind("https://", 0) == 0) {
    t.tls = true;
    at = 8;
  } else {
    return bad(url, "scheme must be http or https");
  }
  const size_t authorityEnd = std::min(url.find_first_of("/?#", at), url.size());
  std::string authority = url.substr(at, authorityEnd - at);
  if (authority.find('@') != std::string::npos) return bad(url, "user info is not supported");
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return bad(url, "unterminated IPv6 address");
    t.host = authority.substr(1, close - 1);
    const std::string rest = authority.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return bad(url, "junk after the IPv6 address");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const size_t colon = authority.find(':');
    t.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (t.host.empty()) return bad(url, "host is empty");
  if (port.empty()) {
    t.port = t.tls ? 443 : 80;
  } else {
    if (port.size() > 5) return bad(url, "port out of range");
    unsigned long p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return bad(url, "port is not a number");
      p = p * 10 + static_cast<unsigned long>(c - '0');
    }
    if (p == 0 || p > 65535) return bad(url, "port out of range");
    t.port = static_cast<uint16_t>(p);
  }
  const bool v6 = t.host.find(':') != std::string::npos;
  t.hostHeader = (v6 ? "[" + t.host + "]" : t.host);
  if (!port.empty()) t.hostHeader += ":" + port;

  const std::string rest = url.substr(authorityEnd);
  const size_t fragment = rest.find('#');
  const std::string pathAndQuery = rest.substr(0, fragment);
  const size_t q = pathAndQuery.find('?');
  t.basePath = pathAndQuery.substr(0, q);
  if (q != std::string::npos) t.baseQuery = pathAndQuery.substr(q + 1);
  while (!t.basePath.empty() && t.basePath.back() == '/') t.basePath.pop_back();
  return t;
}

std::string requestTarget(const HttpTarget& target, const std::string& route) {
  const size_t q = route.find('?');
  std::string path = target.basePath;
  const std::string routePath = route.substr(0, q);
  if (!routePath.empty() && routePath != "/") {
    if (routePath[0] != '/') path += '/';
    path += routePath;
  }
  if (path.empty()) path.push_back('/');  // (not = "/": GCC 12 warns falsely)
  std::string query = target.baseQuery;
  if (q != std::string::npos && q + 1 < route.size()) {
    if (!query.empty()) query += '&';
    query += route.substr(q + 1);
  }
  return query.empty() ? path : path + "?" + query;
}

}  // namespace ew::runtime
