#include "core/outbox_batch.h"

#include <nlohmann/json.hpp>

#include <set>

namespace ew::runtime {

OutboxMessage outboxMessage(const OutboxRow& row, const std::string& source) {
  // The envelope without data, keys in order ("data" sorts first), and the
  // payload spliced in as it is when it is JSON: validating it is a fraction
  // of parsing it into a tree and printing it again, per row.
  const bool json = nlohmann::json::accept(row.payload);
  nlohmann::json ce = {{"specversion", "1.0"},
                       {"id", std::to_string(row.id)},
                       {"source", source},
                       {"type", row.eventType.empty() ? kOutboxDefaultEventType : row.eventType},
                       {"datacontenttype", json ? "application/json" : "text/plain"}};
  if (!row.createdAt.empty()) ce["time"] = row.createdAt;
  if (row.key) ce["partitionkey"] = *row.key;
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  const std::string envelope = ce.dump(-1, ' ', false, kReplace);
  const std::string data = json ? row.payload : nlohmann::json(row.payload).dump(-1, ' ', false, kReplace);
  OutboxMessage m{row.topic, row.key, "{\"data\":" + data + "," + envelope.substr(1), row.headers};
  m.headers.emplace_back("content-type", "application/cloudevents+json");
  return m;
}

BatchSettlement settleBatch(const std::vector<OutboxRow>& rows, const std::map<int64_t, DeliveryReport>& reports) {
  BatchSettlement s;
  std::set<std::string> blocked;  // keys with an unsettled earlier row in this batch
  for (const auto& row : rows) {
    const auto it = reports.find(row.id);
    const DeliveryReport report = it == reports.end() ? DeliveryReport{} : it->second;
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
