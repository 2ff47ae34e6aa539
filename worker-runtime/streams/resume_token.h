#pragma once
// The resume token: what a stream puts in each SSE event's `id:` and reads
// back from a reconnecting client's Last-Event-ID. It is the position
// vector of the stream after that event: for every partition of the
// stream's topics, the next offset the client has not seen. Resuming from a
// vector (each partition read from its own next offset) repeats nothing the
// client got and skips nothing it did not, whatever order the partitions were
// interleaved in, and whichever pod of the stream made the token. Pure.
//
// Text form (printable ASCII, no CR/LF/NUL, as SSE ids must be), topics in
// name order, partitions in number order:
//
//   1:<stream>:<topic>=<partition>@<next>,<partition>@<next>;<topic>=...
//   1:orders:order.cancelled=0@17;order.completed=0@1042,1@998,2@1013
//
// ':' '=' '@' ',' ';' cannot occur in topic names or stream names (DNS
// labels), so the form needs no escaping. Version 1; a token of another
// version is foreign.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/offset_tracker.h"
#include "ew/result.h"

namespace ew::runtime {

// Next offset to read, per partition.
using PositionMap = std::map<TopicPartition, int64_t>;

struct ResumeToken {
  std::string stream;
  PositionMap next;
};

// Error.code of decodeResumeToken.
enum ResumeTokenError : int {
  kTokenMalformed = 1,  // not a token of any version (or over kMaxTokenBytes)
  kTokenForeign = 2,    // a token, but of another stream, version or topic set
};

inline constexpr size_t kMaxTokenBytes = 64 * 1024;

std::string encodeResumeToken(const ResumeToken& token);

// Parses TEXT; a well-formed token of another stream than STREAM, or naming a
// topic outside TOPICS (name-sorted, unique), is kTokenForeign. The error
// message says what is wrong without echoing the text.
Result<ResumeToken> decodeResumeToken(std::string_view text, std::string_view stream,
                                      const std::vector<std::string>& topics);

}  // namespace ew::runtime
