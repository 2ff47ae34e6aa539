#pragma once
// Binds the autoscaler's lag source (LagReadFn) and the migration's Kafka
// access to the librdkafka lag reader. Each read resolves its KafkaAccess to
// brokers + credentials (kafka_credentials.h) and takes the pool's client for
// them: one client per distinct cluster + credentials, shared by every
// EventWorker (and namespace) resolving to the same. A changed Secret is used
// from the next read on, and the client of the credentials no longer resolved
// to is closed. A read the broker refuses fails naming the Secret.

#include <memory>

#include "controller/autoscaler.h"
#include "controller/kafka_credentials.h"
#include "controller/reconciler.h"
#include "kafka/lag_reader.h"

namespace ew::controller {

// SECRETS: where credentials come from; none: PLAINTEXT only (any other
// protocol fails naming operatorSecretRef).
LagReadFn lagReadFn(std::shared_ptr<autoscale::LagReaderPool> pool, OperatorSecrets secrets = {});

// The migration's Kafka access: reads through the pool's clients, copies
// offsets with a short-lived admin client.
MigrationKafka migrationKafka(std::shared_ptr<autoscale::LagReaderPool> pool, autoscale::Millis timeout,
                              OperatorSecrets secrets = {});

}  // namespace ew::controller
