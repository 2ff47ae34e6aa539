// The runtime config's outbox relays and streams (see config_reader.h).
#include <algorithm>
#include <cctype>
#include <set>

#include "core/config_reader.h"
#include "core/http_target.h"

namespace ew::runtime::config_reader {

const EnumName<OutboxCompletion> kOutboxCompletions[2] = {{"markPublished", OutboxCompletion::MarkPublished},
                                                          {"delete", OutboxCompletion::Delete}};
const EnumName<ResumeFallback> kResumeFallbacks[2] = {{"oldest", ResumeFallback::Oldest},
                                                      {"newest", ResumeFallback::Newest}};
namespace {
constexpr EnumName<StreamAuthMode> kStreamAuthModes[] = {{"none", StreamAuthMode::None},
                                                         {"bearer", StreamAuthMode::Bearer}};

// A lower-case SQL identifier (quoted in every statement anyway).
bool isIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 63 || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return true;
}

std::string identifier(const Map& m, const std::string& key, const std::string& def, bool optional) {
  std::string v = m.str(key, def);
  if (v.empty() && optional) return v;
  if (!isIdentifier(v)) fail(m.path(key), "must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63)");
  return v;
}

bool topicName(const std::string& t) {
  return !t.empty() && t.size() <= 249 && std::all_of(t.begin(), t.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

OutboxConfig parseOutbox(const Map& m) {
  OutboxConfig o;
  o.name = m.str("name", "", true);
  o.connectionFile = m.str("connectionFile", "");
  o.connectionEnv = m.str("connectionEnv", "");
  if (o.connectionFile.empty() == o.connectionEnv.empty())
    fail(m.path("connectionFile"), "set exactly one of connectionFile and connectionEnv (a libpq connection URI)");
  o.table = m.str("table", o.table);
  const auto dot = o.table.find('.');
  if (!isIdentifier(o.table.substr(0, dot)) || (dot != std::string::npos && !isIdentifier(o.table.substr(dot + 1))))
    fail(m.path("table"), "must be [schema.]table, lower-case SQL identifiers");
  o.topic = m.str("topic", "");
  if (m.has("columns")) {
    Map c(m.node("columns"), m.path("columns"),
          {"id", "eventType", "topic", "key", "payload", "headers", "status", "createdAt", "error"});
    OutboxColumns& k = o.columns;
    k.id = identifier(c, "id", k.id, false);
    k.eventType = identifier(c, "eventType", k.eventType, true);
    k.topic = identifier(c, "topic", k.topic, true);
    k.key = identifier(c, "key", k.key, true);
    k.payload = identifier(c, "payload", k.payload, false);
    k.headers = identifier(c, "headers", k.headers, true);
    k.status = identifier(c, "status", k.status, true);
    k.createdAt = identifier(c, "createdAt", k.createdAt, false);
    k.error = identifier(c, "error", k.error, true);
  }
  if (o.topic.empty() && o.columns.topic.empty()) fail(m.path("topic"), "required when columns.topic is empty");
  o.completion = m.enumOf("completion", "markPublished", kOutboxCompletions);
  if (o.completion == OutboxCompletion::MarkPublished && o.columns.status.empty())
    fail(m.path("completion"), "markPublished needs columns.status");
  o.batchSize = static_cast<int>(m.integer("batchSize", o.batchSize, 1, 10000));
  o.pollInterval = m.duration("pollInterval", o.pollInterval);
  if (o.pollInterval < Millis(10)) fail(m.path("pollInterval"), "must be at least 10ms");
  o.notifyChannel = m.str("notifyChannel", "");
  if (!o.notifyChannel.empty() && !isIdentifier(o.notifyChannel))
    fail(m.path("notifyChannel"), "must be a lower-case SQL identifier");
  return o;
}

StreamConfig parseStream(const Map& m) {
  StreamConfig s;
  s.name = m.str("name", "", true);
  s.topics = m.strings("topics");
  if (s.topics.empty()) fail(m.path("topics"), "required (at least one topic)");
  for (size_t i = 0; i < s.topics.size(); ++i)
    if (!topicName(s.topics[i])) fail(m.path("topics") + "[" + std::to_string(i) + "]", "not a Kafka topic name");
  std::sort(s.topics.begin(), s.topics.end());
  if (std::adjacent_find(s.topics.begin(), s.topics.end()) != s.topics.end())
    fail(m.path("topics"), "a topic is listed twice");
  s.path = m.str("path", "", true);
  if (s.path.empty() || s.path[0] != '/' || s.path.find_first_of("?# \t") != std::string::npos)
    fail(m.path("path"), "must be an HTTP path starting with '/' (no query)");
  if (m.has("filter")) {
    Map f(m.node("filter"), m.path("filter"), {"types", "keys"});
    s.filterTypes = f.strings("types");
    s.filterKeys = f.strings("keys");
  }
  if (m.has("fields")) {
    static const std::set<std::string> known{"id",   "type", "source", "subject",   "time",  "datacontenttype",
                                             "data", "key",  "topic",  "partition", "offset"};
    s.fields = m.strings("fields");
    for (size_t i = 0; i < s.fields.size(); ++i)
      if (!known.count(s.fields[i]))
        fail(m.path("fields") + "[" + std::to_string(i) + "]", "\"" + s.fields[i] + "\" is not an event field");
  }
  s.clientBuffer = static_cast<int>(m.integer("clientBuffer", s.clientBuffer, 1, 100000));
  s.replayEvents = static_cast<int>(m.integer("replayEvents", s.replayEvents, 1, 1000000));
  if (s.clientBuffer > s.replayEvents) fail(m.path("clientBuffer"), "must not exceed replayEvents");
  s.heartbeatInterval = m.duration("heartbeatInterval", s.heartbeatInterval);
  if (s.heartbeatInterval < Millis(100)) fail(m.path("heartbeatInterval"), "must be at least 100ms");
  s.reconnectDelay = m.duration("reconnectDelay", s.reconnectDelay);
  s.resumeFallback = m.enumOf("resumeFallback", "oldest", kResumeFallbacks);
  s.maxEventBytes = m.integer("maxEventBytes", s.maxEventBytes, 1, 64 << 20);
  if (m.has("auth")) {
    Map a(m.node("auth"), m.path("auth"), {"mode", "url", "cacheTTL"});
    s.authMode = a.enumOf("mode", "none", kStreamAuthModes);
    s.authUrl = a.str("url", "", s.authMode == StreamAuthMode::Bearer);
    if (!s.authUrl.empty())
      if (auto t = parseHttpUrl(s.authUrl); !t) fail(a.path("url"), t.error().message);
    s.authCacheTTL = a.duration("cacheTTL", s.authCacheTTL);
  }
  return s;
}

}  // namespace ew::runtime::config_reader
