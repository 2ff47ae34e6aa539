#pragma once
// The consumer-group side of one lag read (LagReader::readMany): which of
// the groups exist, then one DescribeConsumerGroups (the members'
// assignments) and one ListConsumerGroupOffsets per group (the committed
// offsets), sent together and collected until all answered or the read's
// budget is spent. Internal to ew_lag_reader.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kafka/admin_call.h"
#include "kafka/lag_reader_merge.h"

namespace ew::autoscale::admin {

// The groups among GROUPS that exist in the cluster, from one ListGroups
// request per broker; std::nullopt when the listing is incomplete (a broker
// failed or did not answer in time), and then every group is asked about. A
// group that is not listed has no committed offsets and no members (a group
// with only committed offsets is listed, as Empty), so nothing is sent for it:
// a burst of new workers whose groups no consumer has joined yet costs one
// request per broker and read, not a FindCoordinator, a DescribeGroups and an
// OffsetFetch per group. Takes at most half of the read's budget. The listing
// is not sent to a group's coordinator, so librdkafka 2.0.2's coordinator
// lookup (see kAdminTimeoutMs) is not involved and an ordinary timeout is safe.
std::optional<std::set<std::string>> listExisting(const Call& call, const std::vector<std::string>& groups);

// Sends one DescribeConsumerGroups for GROUPS and one ListConsumerGroupOffsets
// per group (all partitions), all onto QUEUE; an offsets result carries its
// group's index in GROUPS as the event opaque. REQUIRES: GROUPS distinct.
void sendGroupRequests(const Call& call, const std::vector<std::string>& groups, rd_kafka_queue_t* queue);

struct GroupResults {
  std::map<std::string, GroupFetch> fetched;
  bool complete = false;  // every request answered
};

// Collects the results sendGroupRequests asked for, until all arrived or the
// budget is spent (what is missing then has timed out). A read that leaves
// any behind (!complete) retires its client (see kAdminTimeoutMs).
GroupResults collectGroupResults(const Call& call, rd_kafka_queue_t* queue, const std::vector<std::string>& groups);

}  // namespace ew::autoscale::admin
