#include "core/outbox_horizon.h"

#include <catch2/catch.hpp>

#include <string>

using namespace ew::runtime;

namespace {

ReadFence fence(const char* snapshot, std::vector<uint64_t> writers = {}, bool writerWithoutXid = false) {
  auto s = parsePgSnapshot(snapshot);
  REQUIRE(s);
  return {*s, std::move(writers), writerWithoutXid};
}

}  // namespace

TEST_CASE("a PostgreSQL snapshot is parsed from its text") {
  auto s = parsePgSnapshot("100:105:100,102");
  REQUIRE(s);
  CHECK(s->xmin == 100);
  CHECK(s->xmax == 105);
  CHECK(s->inProgress == std::vector<uint64_t>{100, 102});
  CHECK(s->ended(99));
  CHECK_FALSE(s->ended(100));
  CHECK(s->ended(101));
  CHECK_FALSE(s->ended(102));
  CHECK_FALSE(s->ended(105));  // not even started when the snapshot was taken
  auto quiet = parsePgSnapshot("7:7:");
  REQUIRE(quiet);
  CHECK(quiet->inProgress.empty());
  for (const char* bad : {"", "7", "7:", "x:7:", "8:7:", "7:9:8,", "7:9:a"}) CHECK_FALSE(parsePgSnapshot(bad));
}

TEST_CASE("a read of a table nobody is writing proves its own rows at once") {
  OutboxHorizon h;
  CHECK(h.observe(fence("50:50:"), 10) == 10);
  CHECK(h.waiting() == 0);
}

TEST_CASE("rows above the horizon wait until every writer of the table at the read has ended") {
  // Read 1 sees ids up to 6; transaction 51 (which drew id 5, not visible yet) still writes the table.
  OutboxHorizon h;
  CHECK(h.observe(fence("51:53:51,52", {51}), 6) < 5);
  // Read 2: 51 still runs (52, writing elsewhere, has ended): nothing proven.
  CHECK(h.observe(fence("51:55:51,54", {51}), 8) < 5);
  CHECK(h.waiting() == 2);
  // Read 3: 51 has ended: every id up to 8 is final (read 2's list had only 51).
  CHECK(h.observe(fence("54:56:54,55", {55}), 9) == 8);
  CHECK(h.waiting() == 1);  // read 3's own, waiting for 55
  CHECK(h.observe(fence("56:56:"), 9) == 9);
}

TEST_CASE("a long transaction that does not write the table does not hold the horizon") {
  OutboxHorizon h;
  // 10 runs for ever (in every snapshot) but never locks the table.
  CHECK(h.observe(fence("10:60:10,59", {59}), 20) < 20);
  CHECK(h.observe(fence("10:62:10,61"), 30) == 30);
}

TEST_CASE("a read that saw a writer without a transaction id proves nothing") {
  // Such a writer may have drawn an id below the read's highest and not written it yet.
  OutboxHorizon h;
  CHECK(h.observe(fence("50:50:", {}, true), 10) < 10);
  CHECK(h.waiting() == 0);
  CHECK(h.observe(fence("51:51:"), 12) == 12);
}

TEST_CASE("the horizon never goes back and proves older candidates with newer ones") {
  OutboxHorizon h;
  CHECK(h.observe(fence("100:100:"), 40) == 40);
  CHECK(h.observe(fence("100:102:100,101", {100}), 30) == 40);  // a read after a restart from the first pending row
  CHECK(h.waiting() == 0);
  CHECK(h.observe(fence("100:102:100,101", {100}), 50) == 40);
  CHECK(h.observe(fence("100:103:100,102", {100, 102}), 60) == 40);
  CHECK(h.observe(fence("102:104:102", {102}), 70) == 50);
  CHECK(h.observe(fence("104:104:"), 65) == 70);
  CHECK(h.waiting() == 0);
}

TEST_CASE("the candidates waiting are bounded") {
  OutboxHorizon h;
  for (int64_t i = 1; i <= 200; ++i) h.observe(fence("1:2:1", {1}), i);
  CHECK(h.waiting() == OutboxHorizon::kMaxCandidates);
  CHECK(h.observe(fence("2:2:"), 150) == 200);
}

TEST_CASE("a read fence is parsed from the snapshot and the writers' lock text") {
  auto f = parseReadFence("100:105:100,102", "100;-;102,103");
  REQUIRE(f);
  CHECK(f->writers == std::vector<uint64_t>{100, 102, 103});
  CHECK(f->writerWithoutTransactionId);
  auto quiet = parseReadFence("7:7:", "");
  REQUIRE(quiet);
  CHECK(quiet->writers.empty());
  CHECK_FALSE(quiet->writerWithoutTransactionId);
  CHECK_FALSE(parseReadFence("7:7:", "1,x"));
  CHECK_FALSE(parseReadFence("7:7", ""));
}

TEST_CASE("the 32-bit transaction ids of the lock list are widened next to the snapshot across an epoch") {
  const uint64_t epoch = uint64_t{1} << 32;
  // Snapshot in epoch 3 just after the wrap; a writer that got its id just before it (end of epoch 2).
  const std::string snap = std::to_string(3 * epoch - 5) + ":" + std::to_string(3 * epoch + 2) + ":";
  auto f = parseReadFence(snap, std::to_string(epoch - 3) + ";1");
  REQUIRE(f);
  CHECK(f->writers == std::vector<uint64_t>{3 * epoch - 3, 3 * epoch + 1});
  // A writer whose id was assigned after the snapshot, still in the same epoch.
  auto g = parseReadFence("500:510:", "512");
  REQUIRE(g);
  CHECK(g->writers == std::vector<uint64_t>{512});
}
