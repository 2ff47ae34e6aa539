#pragma once
// Fail fast, and say why, when the runtime's Kafka security settings cannot
// work: a librdkafka client left alone retries a wrong password or an
// untrusted certificate forever, logging a line per attempt, while the pod
// looks merely slow. Two checks before the runtime starts consuming:
//   checkTlsFiles        the files of the mounted Secret (CA, client
//                        certificate and key): readable PEM, the certificate
//                        valid now, the key its key;
//   probeKafkaSecurity   one client connects, authenticates and reads
//                        metadata; a broker refusing it (wrong credentials,
//                        a certificate the broker or this client does not
//                        trust) is an error naming which; brokers merely
//                        unreachable are not (librdkafka keeps trying, as
//                        over PLAINTEXT).
// Errors name the config field and the file, never a secret's value.

#include <chrono>
#include <optional>
#include <string>

#include "core/config.h"
#include "ew/result.h"
#include "ew/time_source.h"

namespace ew::runtime {

// The files SEC names, as they are at NOW.
Status checkTlsFiles(const KafkaSecurityConfig& sec, std::chrono::system_clock::time_point now);

// Why a broker refused the client, from a librdkafka error (code ERR and its
// text); nullopt when the error is not a refusal (a timeout, a connection
// refused, a broker going away). Pure.
std::optional<std::string> securityRefusal(int err, const std::string& text, const KafkaSecurityConfig& sec);

// Connects to CONFIG's brokers with its security settings (nothing to do for
// PLAINTEXT) and waits up to TIMEOUT (on TIME, which also dates the
// certificate check) for a broker to answer or to refuse.
Status probeKafkaSecurity(const KafkaSourceConfig& config, std::chrono::milliseconds timeout,
                          const TimeSource& time = systemTime());

}  // namespace ew::runtime
