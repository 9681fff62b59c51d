# syntax=docker/dockerfile:1
# andon runtime image: the package (no dev extras) in a venv, numba kernels compiled at build time, non-root.
#   docker build -t andon:0.1.0 .
#   docker run --rm andon:0.1.0 --help
# Secrets never enter the image: Kubernetes passes them as ANDON_*_FILE paths to mounted Secrets (k8s/base).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY andon/ andon/
COPY wire/ wire/
COPY operators/ operators/
COPY connectors/ connectors/
COPY pipelines/ pipelines/
# A regular (not editable) install of the runtime dependencies only: no [dev] extra.
RUN python -m venv /opt/andon/venv \
 && /opt/andon/venv/bin/pip install --upgrade pip \
 && /opt/andon/venv/bin/pip install . \
 && /opt/andon/venv/bin/andon --version

FROM ${PYTHON_IMAGE}
# LLVM CPU the kernels are compiled for. numba keys its cache on the CPU name and features, so the cache warmed
# here is only used at run time when the same value is set there too (it is: ENV below). "generic" runs on every
# x86-64 node; "x86-64-v3" is faster where every node has AVX2.
ARG NUMBA_CPU_NAME=generic
# tini reaps children and forwards signals; andon itself would run as PID 1 and ignore SIGTERM otherwise.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 andon \
 && useradd --system --uid 10001 --gid andon --home-dir /home/andon --create-home --shell /usr/sbin/nologin andon \
 && mkdir -p /opt/andon/numba-cache /var/lib/andon \
 && chown andon:andon /opt/andon/numba-cache /var/lib/andon
COPY --from=build /opt/andon/venv /opt/andon/venv
ENV PATH=/opt/andon/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NUMBA_CACHE_DIR=/opt/andon/numba-cache \
    NUMBA_CPU_NAME=${NUMBA_CPU_NAME} \
    ANDON_METRICS_PORT=9100
USER 10001:10001
WORKDIR /var/lib/andon
# Compile every kernel now, into NUMBA_CACHE_DIR, so no compile happens mid-stream (and none at pod start).
RUN python -c "from andon.operators.kernels import warm_up; print(warm_up())"
EXPOSE 9100 9999 3030
# Liveness of the metrics/health server (andon run ... --metrics-port 9100). Kubernetes ignores HEALTHCHECK and
# uses the probes in k8s/base; this is for docker and compose.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('ANDON_METRICS_PORT', '9100'), timeout=4)"]
# bytewax shuts a dataflow down cleanly on SIGINT; the container runtime sends this on stop.
STOPSIGNAL SIGINT
ENTRYPOINT ["tini", "--", "andon"]
CMD ["--help"]
