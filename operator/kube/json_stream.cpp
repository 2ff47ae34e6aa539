#include "kube/json_stream.h"

namespace ew::kube {

bool JsonStreamSplitter::feed(std::string_view bytes) {
  if (failed_) return false;
  for (char c : bytes) {
    if (depth_ == 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c != '{' && c != '[') return !(failed_ = true);
    }
    current_.push_back(c);
    if (current_.size() > maxValueBytes_) return !(failed_ = true);
    if (inString_) {
      if (escape_)
        escape_ = false;
      else if (c == '\\')
        escape_ = true;
      else if (c == '"')
        inString_ = false;
      continue;
    }
    switch (c) {
      case '"':
        inString_ = true;
        break;
      case '{':
      case '[':
        ++depth_;
        break;
      case '}':
      case ']':
        if (--depth_ == 0) {
          complete_.push_back(std::move(current_));
          current_.clear();
        }
        break;
      default:
        break;
    }
  }
  return true;
}

bool JsonStreamSplitter::next(std::string& value) {
  if (complete_.empty()) return false;
  value = std::move(complete_.front());
  complete_.pop_front();
  return true;
}

}  // namespace ew::kube
