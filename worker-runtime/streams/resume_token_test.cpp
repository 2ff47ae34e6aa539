#include <catch2/catch.hpp>

#include <random>

#include "streams/resume_token.h"
#include "streams/stream_layout.h"

using namespace ew::runtime;

namespace {

const std::vector<std::string> kTopics{"order.cancelled", "order.completed"};

ResumeToken sample() {
  return {"orders",
          {{{"order.completed", 0}, 1042},
           {{"order.completed", 1}, 998},
           {{"order.cancelled", 0}, 17},
           {{"order.completed", 2}, 0}}};
}

}  // namespace

TEST_CASE("a resume token reads as topics in name order, partitions in number order") {
  CHECK(encodeResumeToken(sample()) == "1:orders:order.cancelled=0@17;order.completed=0@1042,1@998,2@0");
}

TEST_CASE("every token decodes to what was encoded (random vectors)") {
  std::mt19937_64 rng(22);
  for (int round = 0; round < 2000; ++round) {
    ResumeToken t{"s-" + std::to_string(round % 7), {}};
    const int parts = static_cast<int>(rng() % 40);
    for (int i = 0; i < parts; ++i)
      t.next[{kTopics[rng() % 2], static_cast<int32_t>(rng() % 1000)}] =
          static_cast<int64_t>(rng() % 3 == 0 ? rng() >> 1 : rng() % 100);
    if (t.next.empty()) t.next[{kTopics[0], 0}] = 0;
    const std::string text = encodeResumeToken(t);
    INFO(text);
    CHECK(text.find_first_of("\r\n") == std::string::npos);
    auto back = decodeResumeToken(text, t.stream, kTopics);
    REQUIRE(back.ok());
    CHECK(back->stream == t.stream);
    CHECK(back->next == t.next);
  }
}

TEST_CASE("malformed tokens are refused as malformed, without echoing them") {
  for (const std::string bad : {"",
                                "garbage",
                                "1",
                                "1:",
                                "1::",
                                "1:orders",
                                "1:orders:",
                                "1:orders:order.completed",
                                "1:orders:order.completed=",
                                "1:orders:order.completed=0",
                                "1:orders:order.completed=0@",
                                "1:orders:order.completed=@5",
                                "1:orders:order.completed=-1@5",
                                "1:orders:order.completed=0@-5",
                                "1:orders:order.completed=0@05",
                                "1:orders:order.completed=0@1x",
                                "1:orders:order.completed=0@1,0@2",
                                "1:orders:order completed=0@1",
                                "1:orders:=0@1",
                                "1:orders:order.completed=0@99999999999999999999",
                                "1:orders:order.completed=4294967296@1",
                                "x:orders:order.completed=0@1",
                                "1:orders:order.completed=0@1;",
                                "1:orders:order.completed=0@1,,1@2"}) {
    INFO(bad);
    auto t = decodeResumeToken(bad, "orders", kTopics);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code == kTokenMalformed);
    if (bad.size() > 8) CHECK(t.error().message.find(bad) == std::string::npos);
  }
  CHECK(decodeResumeToken(std::string(kMaxTokenBytes + 1, '1'), "orders", kTopics).error().code == kTokenMalformed);
}

TEST_CASE("random bytes never crash the decoder and never decode as another stream's token") {
  std::mt19937_64 rng(7);
  const std::string alphabet = "1:orders=@,;.0123456789order.completed\x01\xff ";
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const size_t n = rng() % 60;
    for (size_t i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    auto t = decodeResumeToken(text, "orders", kTopics);
    if (t.ok()) CHECK(t->stream == "orders");
  }
}

TEST_CASE("a token of another stream, version or topic is foreign") {
  CHECK(decodeResumeToken("1:vip:order.completed=0@1", "orders", kTopics).error().code == kTokenForeign);
  CHECK(decodeResumeToken("2:orders:order.completed=0@1", "orders", kTopics).error().code == kTokenForeign);
  CHECK(decodeResumeToken("1:orders:payment.done=0@1", "orders", kTopics).error().code == kTokenForeign);
  CHECK(decodeResumeToken("1:orders:order.completed=0@1", "orders", kTopics).ok());
}

TEST_CASE("a layout turns tokens into positions, partitions the token did not name at MISSING") {
  StreamLayout layout({{"order.completed", 1}, {"order.cancelled", 0}, {"order.completed", 0}});
  REQUIRE(layout.size() == 3);
  CHECK(layout.at(0) == TopicPartition{"order.cancelled", 0});
  CHECK(layout.indexOf({"order.completed", 1}) == 2u);
  CHECK_FALSE(layout.indexOf({"order.completed", 7}));
  const std::string token = layout.token("orders", {5, 6, 7});
  CHECK(token == "1:orders:order.cancelled=0@5;order.completed=0@6,1@7");
  auto decoded = decodeResumeToken(token, "orders", kTopics);
  REQUIRE(decoded.ok());
  CHECK(layout.position(decoded->next, -1) == Position{5, 6, 7});
  decoded->next.erase({"order.completed", 1});
  CHECK(layout.position(decoded->next, -1) == Position{5, 6, -1});
}

TEST_CASE("a partition added to a topic takes the next index: earlier indexes, positions and tokens stay valid") {
  const StreamLayout before({{"order.completed", 1}, {"order.cancelled", 0}, {"order.completed", 0}});
  const StreamLayout after = before.withAdded({{"order.completed", 3}, {"order.cancelled", 1}, {"order.completed", 2}});
  REQUIRE(after.size() == 6);
  for (size_t i = 0; i < before.size(); ++i) CHECK(after.at(i) == before.at(i));
  CHECK(after.indexOf({"order.cancelled", 1}) == 3u);
  CHECK(after.indexOf({"order.completed", 2}) == 4u);
  CHECK(after.indexOf({"order.completed", 3}) == 5u);
  CHECK(after.indexOf({"order.completed", 1}) == 2u);
  CHECK_FALSE(after.indexOf({"order.completed", 4}));
  // A position made before the partitions were added names only the old ones.
  CHECK(after.token("orders", {5, 6, 7}) == "1:orders:order.cancelled=0@5;order.completed=0@6,1@7");
  CHECK(after.token("orders", {5, 6, 7, 1, 2, 3}) ==
        "1:orders:order.cancelled=0@5,1@1;order.completed=0@6,1@7,2@2,3@3");
  // Its token gives the new partitions at MISSING (from their beginning).
  auto decoded = decodeResumeToken(before.token("orders", {5, 6, 7}), "orders", kTopics);
  REQUIRE(decoded.ok());
  CHECK(after.position(decoded->next, -1) == Position{5, 6, 7, -1, -1, -1});
}
