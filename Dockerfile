# The orchestrator image: one image, every process (`orchestrator processor|projector|api|worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Every runtime dependency ships as a binary wheel for linux/amd64 and arm64 (confluent-kafka,
# psycopg[binary], quickjs-ng, jq, fastavro, orjson), so no compiler is installed.
COPY . /app
RUN pip install /app \
    && useradd --system --uid 10001 --home-dir /app orchestrator \
    && mkdir -p /var/lib/orchestrator \
    && chown orchestrator /var/lib/orchestrator

# /app on the path makes the example workers (examples/...) importable by `orchestrator worker`.
ENV PYTHONPATH=/app \
    ORCHESTRATOR_SCHEMAS_DIR=/app/schemas \
    ORCHESTRATOR_STATE_DIR=/var/lib/orchestrator/state

USER orchestrator
ENTRYPOINT ["orchestrator"]
CMD ["--help"]
