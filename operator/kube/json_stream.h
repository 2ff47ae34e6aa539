#pragma once
// Splits a byte stream into complete top-level JSON values (objects or
// arrays), whatever the chunk boundaries: a watch response may cut an event
// anywhere or carry several in one chunk. Pure; not thread-safe.

#include <deque>
#include <string>
#include <string_view>

namespace ew::kube {

class JsonStreamSplitter {
 public:
  explicit JsonStreamSplitter(size_t maxValueBytes = 64u << 20) : maxValueBytes_(maxValueBytes) {}

  // Appends bytes. Returns false (and stays failed) when the stream is not a
  // sequence of JSON objects/arrays or a value exceeds maxValueBytes.
  bool feed(std::string_view bytes);
  // Pops the next complete value's text, if any.
  bool next(std::string& value);
  bool failed() const { return failed_; }
  size_t buffered() const { return current_.size(); }

 private:
  size_t maxValueBytes_;
  std::deque<std::string> complete_;
  std::string current_;
  int depth_ = 0;
  bool inString_ = false;
  bool escape_ = false;
  bool failed_ = false;
};

}  // namespace ew::kube
