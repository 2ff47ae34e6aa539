# The operator and runtime images: one builder, two slim targets.
#   podman build --target operator -t ghcr.io/eventworker/eventworker-operator:0.1.0 .
#   podman build --target runtime  -t ghcr.io/eventworker/eventworker-runtime:0.1.0 .
# hack/image-build.sh runs both (and makes the debian:bookworm[-slim] base
# from debootstrap when no registry is reachable) and checks the results.
# Both images run as 65532:65532, the user of manifests/deployment.yaml and
# of the worker pods the operator renders (render.cpp kRuntimeUser).

FROM debian:bookworm AS builder
# The -dev packages of hack/deps.sh that the build needs. catch2 only because
# the top-level CMakeLists.txt requires it to configure; no test is compiled.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libcpprest-dev libboost-system-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev \
      libzstd-dev libspdlog-dev libcli11-dev libhiredis-dev libyaml-dev zlib1g-dev libpq-dev catch2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG JOBS=2
# librdkafka >= 2.6.1 (hack/build-librdkafka.sh; Debian 12's 2.0.2 cannot do
# SCRAM with Kafka 4) in /opt/eventworker, where the binaries' RUNPATH finds it.
ENV EW_CACHE=/opt/eventworker
RUN bash hack/build-librdkafka.sh \
 && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j "$JOBS" --target eventworker-operator eventworker-runtime \
 && install -D -s -m 0755 /build/operator/eventworker-operator /out/eventworker-operator \
 && install -D -s -m 0755 /build/worker-runtime/eventworker-runtime /out/eventworker-runtime \
 && rm -rf /opt/eventworker/librdkafka-*/include /opt/eventworker/librdkafka-*/share \
      /opt/eventworker/librdkafka-*/lib/*.a /opt/eventworker/librdkafka-*/lib/pkgconfig

# The shared libraries both binaries link (ldd + dpkg -S in the builder;
# their dependencies come with them), and the CA bundle for TLS to Kafka,
# handlers and the API server. A layer the two images share.
FROM debian:bookworm-slim AS base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libzstd1 libspdlog1.10 libssl3 libyaml-cpp0.7 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log
COPY --from=builder /opt/eventworker /opt/eventworker

FROM base AS operator
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libyaml-0-2 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log
COPY --from=builder /out/eventworker-operator /usr/local/bin/eventworker-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/eventworker-operator"]
ARG VERSION=dev
LABEL org.opencontainers.image.title="eventworker-operator" \
      org.opencontainers.image.description="EventWorker operator: reconciles EventWorker resources into worker Deployments and StatefulSets" \
      org.opencontainers.image.source="https://github.com/eventworker/eventworker" \
      org.opencontainers.image.version="$VERSION"

FROM base AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libhiredis0.14 libpq5 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log
COPY --from=builder /out/eventworker-runtime /usr/local/bin/eventworker-runtime
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/eventworker-runtime"]
ARG VERSION=dev
LABEL org.opencontainers.image.title="eventworker-runtime" \
      org.opencontainers.image.description="EventWorker runtime: consumes events, runs cron jobs and calls the worker's handler, or relays outbox tables to Kafka" \
      org.opencontainers.image.source="https://github.com/eventworker/eventworker" \
      org.opencontainers.image.version="$VERSION"
