# Multi-stage build of the operator and runtime images: lands with the
# packaging issue. Until then this file only reserves the layout.
FROM debian:bookworm-slim
RUN false # not built yet: see the packaging issue
