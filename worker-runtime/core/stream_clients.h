#pragma once
// What the SSE gateway (--mode streams, streams/streams_mode.h) says of one
// stream in the runtime's /status: its connected clients, which the operator
// scales the streams Deployment on. A value type.

#include <cstddef>
#include <string>

namespace ew::runtime {

struct StreamClients {
  std::string stream;  // spec.streams[].name
  size_t clients = 0;
};

}  // namespace ew::runtime
