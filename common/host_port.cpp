#include "ew/host_port.h"

#include <charconv>

namespace ew {

Result<HostPort> parseHostPort(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return Error{"missing \":port\""};
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Error{"an IPv6 host must be in brackets ([::1]:port)"};
  }
  if (host.empty()) return Error{"missing host"};
  int value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size()) return Error{"port is not a number"};
  if (value < 1 || value > 65535) return Error{"port out of range (1..65535)"};
  return HostPort{std::string(host), value};
}

}  // namespace ew
