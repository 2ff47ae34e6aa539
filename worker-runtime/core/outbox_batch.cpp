#include "core/outbox_batch.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string_view>

namespace ew::runtime {

namespace {

// Appends S as a JSON string (invalid UTF-8 replaced). Printable ASCII
// without quote or backslash, the usual key, type, source and time, is
// copied as it is; the rest goes through nlohmann's escaping.
void appendQuoted(std::string& out, std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
  });
  if (plain) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr int64_t kMicrosPerDay = 86'400'000'000;
// 2000-01-01 in days since 1970-01-01: PostgreSQL's epoch.
constexpr int64_t kPgEpochDays = 10'957;
bool infinite(int64_t micros) {
  return micros == std::numeric_limits<int64_t>::max() || micros == std::numeric_limits<int64_t>::min();
}

// Writes V (0 <= V < 10^WIDTH) as WIDTH digits at OUT; returns the end.
char* digits(char* out, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i, v /= 10) out[i] = static_cast<char>('0' + v % 10);
  return out + width;
}

}  // namespace

std::string pgTimestampText(int64_t micros) {
  if (infinite(micros)) return "";
  int64_t days = micros / kMicrosPerDay, inDay = micros % kMicrosPerDay;
  if (inDay < 0) {
    inDay += kMicrosPerDay;
    --days;
  }
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days + kPgEpochDays}}};
  const int64_t secs = inDay / 1'000'000;
  const int year = static_cast<int>(ymd.year());
  if (year >= 0 && year <= 9999) {  // every real row; snprintf was 7 % of the relay's CPU
    char out[27];
    char* p = digits(out, year, 4);
    *p++ = '-';
    p = digits(p, static_cast<unsigned>(ymd.month()), 2);
    *p++ = '-';
    p = digits(p, static_cast<unsigned>(ymd.day()), 2);
    *p++ = 'T';
    p = digits(p, secs / 3600, 2);
    *p++ = ':';
    p = digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = digits(p, secs % 60, 2);
    *p++ = '.';
    p = digits(p, inDay % 1'000'000, 6);
    *p++ = 'Z';
    return std::string(out, p);
  }
  char out[48];
  std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60), static_cast<long long>(inDay % 1'000'000));
  return out;
}

double pgTimestampEpoch(int64_t micros) {
  if (infinite(micros)) return micros > 0 ? HUGE_VAL : -HUGE_VAL;
  return static_cast<double>(micros) / 1e6 + static_cast<double>(kPgEpochDays) * 86'400;
}

OutboxMessage outboxMessage(const OutboxRow& row, const std::string& source) {
  // Written as text, keys in sorted order, the payload spliced in as it is
  // when it is JSON (checked here unless its column is json or jsonb):
  // building a tree per row and printing it was a fifth of the relay's CPU.
  const bool json = row.payloadIsJson || nlohmann::json::accept(row.payload);
  std::string v;
  v.reserve(row.payload.size() + source.size() + 192);
  v += "{\"data\":";
  if (json)
    v += row.payload;
  else
    appendQuoted(v, row.payload);
  v += json ? R"(,"datacontenttype":"application/json")" : R"(,"datacontenttype":"text/plain")";
  v += R"(,"id":")" + std::to_string(row.id) + '"';
  if (row.key) {
    v += ",\"partitionkey\":";
    appendQuoted(v, *row.key);
  }
  v += ",\"source\":";
  appendQuoted(v, source);
  v += R"(,"specversion":"1.0")";
  if (!row.createdAt.empty()) {
    v += ",\"time\":";
    appendQuoted(v, row.createdAt);
  }
  v += ",\"type\":";
  appendQuoted(v, row.eventType.empty() ? kOutboxDefaultEventType : row.eventType);
  v += '}';
  OutboxMessage m{row.topic, row.key, std::move(v), row.headers};
  m.headers.emplace_back("content-type", "application/cloudevents+json");
  return m;
}

BatchSettlement settleBatch(const std::vector<OutboxRow>& rows, const std::map<int64_t, DeliveryReport>& reports) {
  BatchSettlement s;
  std::set<std::string> blocked;  // keys with an unsettled earlier row in this batch
  for (const auto& row : rows) {
    const auto it = reports.find(row.id);
    static const DeliveryReport kUnreported{};
    const DeliveryReport& report = it == reports.end() ? kUnreported : it->second;
    const bool keyBlocked = row.key && blocked.count(*row.key);
    if (report.outcome == Delivery::Refused && !keyBlocked) {
      s.refused.emplace_back(row.id, report.reason);
    } else if (report.outcome == Delivery::Delivered && !keyBlocked) {
      s.published.push_back(row.id);
    } else {
      s.held.push_back(row.id);
      if (row.key) blocked.insert(*row.key);
    }
  }
  return s;
}

}  // namespace ew::runtime
