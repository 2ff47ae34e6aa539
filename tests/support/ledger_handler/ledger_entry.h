#pragma once
// The ledger entry of one delivered event: what the end-to-end tests count to
// prove that no acknowledged event was lost (produced − distinct ids in the
// ledger) and how many were handled twice (entries − distinct ids). Pure.

#include <string>

#include "core/message.h"
#include "ew/result.h"

namespace ew::testing {

struct LedgerEntry {
  std::string eventId;  // the CloudEvent's id: the ledger record's key
  std::string json;     // the ledger record's value, compact JSON
};

// The entry for a POST of BODY (a structured CloudEvent, as the runtime or
// daprd delivers it) to ROUTE, with the request's HEADERS (names lowercased),
// handled by the pod POD. Its JSON holds:
//   id         the CloudEvent's id
//   route      ROUTE
//   seq        data.seq, when data is an object that has one
//   key        the CloudEvent's partitionkey, else the __key header
//   partition  the __partition header (offset: __offset); numbers when integers
//   pod        POD, when not empty
// Error (naming what is wrong) when BODY is not a JSON object with a
// non-empty string id.
Result<LedgerEntry> ledgerEntry(const std::string& route, const std::string& body, const runtime::Headers& headers,
                                const std::string& pod);

}  // namespace ew::testing
