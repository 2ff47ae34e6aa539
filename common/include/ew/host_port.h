#pragma once
// "host:port" as every address in the runtime config and the operator's flags
// is written: a host (name, IPv4, or IPv6 in brackets) and a port 1..65535.
// The one check both halves use. Pure.

#include <string>
#include <string_view>

#include "ew/result.h"

namespace ew {

struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};

// The error says what is wrong ("missing port", "port out of range", ...),
// without the field's name: callers add it.
Result<HostPort> parseHostPort(std::string_view text);

}  // namespace ew
