#include "kafka/group_reads.h"

namespace ew::autoscale::admin {

namespace {

// librdkafka 2.0.2 aborts the process (rd_kafka_enq_once_del_source_return:
// "eonce->refcnt > 0") when a group admin request times out while it still
// waits for its coordinator and the coordinator turns up later (a broker
// restart): the coordinator lookup has no timeout of its own and sends for
// the dead request. So these requests get librdkafka's longest timeout, and a
// read that leaves any of them behind retires its client (LagReader::retire):
// destroying a client fails its pending lookups without sending.
constexpr int kAdminTimeoutMs = 3600 * 1000;

OptionsPtr adminOptions(const Call& call, rd_kafka_admin_op_t op, void* opaque) {
  OptionsPtr options(rd_kafka_AdminOptions_new(call.rk, op));
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), kAdminTimeoutMs, err, sizeof err);
  rd_kafka_AdminOptions_set_opaque(options.get(), opaque);
  return options;
}

// GROUP's committed offsets from its ListConsumerGroupOffsets result EVENT.
Result<std::map<PartitionKey, std::int64_t>> parseCommitted(const Call& call, rd_kafka_event_t* event,
                                                            const std::string& group) {
  const std::string doing = "reading committed offsets of group " + group;
  if (rd_kafka_resp_err_t err = rd_kafka_event_error(event))
    return call.failed(doing, err, rd_kafka_event_error_string(event));
  std::size_t count = 0;
  const rd_kafka_group_result_t** results =
      rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(event), &count);
  std::map<PartitionKey, std::int64_t> committed;
  for (std::size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* error = rd_kafka_group_result_error(results[i])) {
      if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;  // nothing committed
      return call.failed(doing, rd_kafka_error_code(error), rd_kafka_error_string(error));
    }
    const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(results[i]);
    for (int p = 0; partitions && p < partitions->cnt; ++p) {
      const rd_kafka_topic_partition_t& tp = partitions->elems[p];
      if (tp.err) return call.failed(doing + " (" + partitionName(tp.topic, tp.partition) + ")", tp.err);
      if (tp.offset >= 0) committed[{tp.topic, tp.partition}] = tp.offset;
    }
  }
  return committed;
}

// Each described group's assigned partitions, from the DescribeConsumerGroups
// result EVENT; a group that does not exist has none.
std::map<std::string, Result<std::set<PartitionKey>>> parseOwners(const Call& call, rd_kafka_event_t* event,
                                                                  const std::vector<std::string>& groups) {
  std::map<std::string, Result<std::set<PartitionKey>>> owners;
  if (rd_kafka_resp_err_t err = rd_kafka_event_error(event)) {
    for (const auto& group : groups)
      owners.emplace(group, call.failed("describing group " + group, err, rd_kafka_event_error_string(event)));
    return owners;
  }
  std::size_t count = 0;
  const rd_kafka_ConsumerGroupDescription_t** descriptions =
      rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(event), &count);
  for (std::size_t i = 0; i < count; ++i) {
    const rd_kafka_ConsumerGroupDescription_t* description = descriptions[i];
    const std::string group = rd_kafka_ConsumerGroupDescription_group_id(description);
    const rd_kafka_error_t* error = rd_kafka_ConsumerGroupDescription_error(description);
    if (error && rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
      owners.insert_or_assign(
          group, call.failed("describing group " + group, rd_kafka_error_code(error), rd_kafka_error_string(error)));
      continue;
    }
    std::set<PartitionKey> owned;
    const std::size_t members = error ? 0 : rd_kafka_ConsumerGroupDescription_member_count(description);
    for (std::size_t m = 0; m < members; ++m) {
      const rd_kafka_MemberAssignment_t* assignment =
          rd_kafka_MemberDescription_assignment(rd_kafka_ConsumerGroupDescription_member(description, m));
      const rd_kafka_topic_partition_list_t* partitions =
          assignment ? rd_kafka_MemberAssignment_partitions(assignment) : nullptr;
      for (int p = 0; partitions && p < partitions->cnt; ++p)
        owned.insert({partitions->elems[p].topic, partitions->elems[p].partition});
    }
    owners.insert_or_assign(group, std::move(owned));
  }
  return owners;
}

}  // namespace

std::optional<std::set<std::string>> listExisting(const Call& call, const std::vector<std::string>& groups) {
  const int budgetMs = std::max(1, call.remainingMs() / 2);
  QueuePtr queue(rd_kafka_queue_new(call.rk));
  OptionsPtr options(rd_kafka_AdminOptions_new(call.rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS));
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), budgetMs, err, sizeof err);
  rd_kafka_ListConsumerGroups(call.rk, options.get(), queue.get());
  // The request's own timeout answers first; the margin is for the event's way back.
  EventPtr event(rd_kafka_queue_poll(queue.get(), budgetMs + 500));
  if (!event || rd_kafka_event_error(event.get())) return std::nullopt;
  const rd_kafka_ListConsumerGroups_result_t* result = rd_kafka_event_ListConsumerGroups_result(event.get());
  std::size_t errors = 0;
  rd_kafka_ListConsumerGroups_result_errors(result, &errors);
  if (errors != 0) return std::nullopt;
  std::size_t count = 0;
  const rd_kafka_ConsumerGroupListing_t** listed = rd_kafka_ListConsumerGroups_result_valid(result, &count);
  const std::set<std::string> wanted(groups.begin(), groups.end());
  std::set<std::string> existing;
  for (std::size_t i = 0; i < count; ++i)
    if (const char* id = rd_kafka_ConsumerGroupListing_group_id(listed[i]); wanted.contains(id)) existing.insert(id);
  return existing;
}

void sendGroupRequests(const Call& call, const std::vector<std::string>& groups, rd_kafka_queue_t* queue) {
  std::vector<const char*> names;
  for (const auto& group : groups) names.push_back(group.c_str());
  auto describe = adminOptions(call, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, nullptr);
  rd_kafka_DescribeConsumerGroups(call.rk, names.data(), names.size(), describe.get(), queue);

  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto options = adminOptions(call, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
                                reinterpret_cast<void*>(static_cast<std::uintptr_t>(i)));
    GroupOffsetsRequestPtr request(rd_kafka_ListConsumerGroupOffsets_new(groups[i].c_str(), nullptr));
    rd_kafka_ListConsumerGroupOffsets_t* one = request.get();
    rd_kafka_ListConsumerGroupOffsets(call.rk, &one, 1, options.get(), queue);
  }
}

GroupResults collectGroupResults(const Call& call, rd_kafka_queue_t* queue, const std::vector<std::string>& groups) {
  std::vector<std::optional<Result<std::map<PartitionKey, std::int64_t>>>> committed(groups.size());
  std::optional<std::map<std::string, Result<std::set<PartitionKey>>>> owners;
  std::size_t outstanding = groups.size() + 1;
  while (outstanding > 0) {
    const int ms = call.remainingMs();
    if (ms == 0) break;
    EventPtr event(rd_kafka_queue_poll(queue, ms));
    if (!event) continue;
    if (rd_kafka_event_type(event.get()) == RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT && !owners) {
      owners = parseOwners(call, event.get(), groups);
      --outstanding;
    } else if (rd_kafka_event_type(event.get()) == RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT) {
      const auto index = reinterpret_cast<std::uintptr_t>(rd_kafka_event_opaque(event.get()));
      if (index < groups.size() && !committed[index]) {
        committed[index] = parseCommitted(call, event.get(), groups[index]);
        --outstanding;
      }
    }
  }

  GroupResults results;
  results.complete = outstanding == 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const std::string& group = groups[i];
    GroupFetch& fetch = results.fetched[group];
    fetch.committed =
        committed[i] ? std::move(*committed[i]) : call.timedOut("reading committed offsets of group " + group);
    if (!owners) {
      fetch.owned = call.timedOut("describing group " + group);
    } else if (auto it = owners->find(group); it != owners->end()) {
      fetch.owned = std::move(it->second);
    } else {
      fetch.owned = call.error("group " + group + " is missing from the DescribeGroups response");
    }
  }
  return results;
}

}  // namespace ew::autoscale::admin
