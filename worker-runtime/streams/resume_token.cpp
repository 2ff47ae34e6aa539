#include "streams/resume_token.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace ew::runtime {
namespace {

Error malformed(const std::string& why) { return Error{"malformed resume token: " + why, kTokenMalformed}; }

bool topicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Splits TEXT at every SEP (an empty TEXT gives one empty piece).
std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// A non-negative decimal without sign or leading zeros (other than "0").
template <typename Int>
bool parseNumber(std::string_view text, Int& out) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

}  // namespace

std::string encodeResumeToken(const ResumeToken& token) {
  std::string out = "1:" + token.stream + ":";
  std::string_view topic;
  bool first = true;
  // PositionMap orders by partition first; group by topic name here.
  std::vector<std::pair<const TopicPartition*, int64_t>> entries;
  entries.reserve(token.next.size());
  for (const auto& [tp, next] : token.next) entries.emplace_back(&tp, next);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.first->topic != b.first->topic ? a.first->topic < b.first->topic : a.first->partition < b.first->partition;
  });
  for (const auto& [tp, next] : entries) {
    if (first || tp->topic != topic) {
      if (!first) out += ';';
      out += tp->topic;
      out += '=';
      topic = tp->topic;
    } else {
      out += ',';
    }
    first = false;
    out += std::to_string(tp->partition);
    out += '@';
    out += std::to_string(next);
  }
  return out;
}

Result<ResumeToken> decodeResumeToken(std::string_view text, std::string_view stream,
                                      const std::vector<std::string>& topics) {
  if (text.size() > kMaxTokenBytes) return malformed("longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  const size_t c1 = text.find(':');
  if (c1 == std::string_view::npos) return malformed("no version");
  const std::string_view version = text.substr(0, c1);
  if (version.empty() || !std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return malformed("no version");
  const size_t c2 = text.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return malformed("no stream name");
  ResumeToken token;
  token.stream = std::string(text.substr(c1 + 1, c2 - c1 - 1));
  if (token.stream.empty()) return malformed("no stream name");
  const std::string_view body = text.substr(c2 + 1);
  if (body.empty()) return malformed("no positions");
  for (std::string_view group : split(body, ';')) {
    const size_t eq = group.find('=');
    if (eq == std::string_view::npos || eq == 0) return malformed("a topic group without 'topic='");
    const std::string topic(group.substr(0, eq));
    if (!std::all_of(topic.begin(), topic.end(), topicChar)) return malformed("a topic name with invalid characters");
    for (std::string_view entry : split(group.substr(eq + 1), ',')) {
      const size_t at = entry.find('@');
      int32_t partition = 0;
      int64_t next = 0;
      if (at == std::string_view::npos || !parseNumber(entry.substr(0, at), partition) ||
          !parseNumber(entry.substr(at + 1), next))
        return malformed("a position that is not <partition>@<offset>");
      if (!token.next.emplace(TopicPartition{topic, partition}, next).second)
        return malformed("partition " + std::to_string(partition) + " of a topic given twice");
    }
  }
  if (version != "1") return Error{"resume token of version " + std::string(version) + " (this is 1)", kTokenForeign};
  if (token.stream != stream)
    return Error{"resume token of another stream (this is \"" + std::string(stream) + "\")", kTokenForeign};
  for (const auto& [tp, next] : token.next)
    if (!std::binary_search(topics.begin(), topics.end(), tp.topic))
      return Error{"resume token names topic \"" + tp.topic + "\", which the stream does not carry", kTokenForeign};
  return token;
}

}  // namespace ew::runtime
