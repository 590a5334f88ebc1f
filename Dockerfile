# planpulse: one process serving the HTTP API (uvicorn), SQLite in /data by default.
# Build:  docker build -t planpulse .
# Run:    docker run -p 8000:8000 -v planpulse-data:/data planpulse
# See docs/deployment.md for PostgreSQL and several replicas.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# Alembic's revisions live in ./migrations; app/migrations is a link to them, through which
# pyproject's package-data puts them in the wheel. No __init__.py is needed there: Alembic
# loads the files by path.
COPY migrations ./migrations
# Fail the build here, not at the first start, if the revisions did not make it in.
RUN pip install --no-cache-dir . \
    && cd / && rm -rf /src \
    && python -c "from app.migrate import head_revision; assert head_revision()"

# A non-root user owning the data directory. Docker copies this ownership into a new named
# volume mounted at /data; a bind-mounted host directory must be writable by uid 10001.
RUN groupadd --system --gid 10001 planpulse \
    && useradd --system --uid 10001 --gid planpulse --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin planpulse \
    && mkdir -p /data \
    && chown planpulse:planpulse /data

ENV PLANPULSE_DATABASE_URL=sqlite:////data/planpulse.db
WORKDIR /data
VOLUME /data
USER planpulse

EXPOSE 8000

# Liveness only: /healthz answers while the process does. Readiness (database reachable,
# schema at head) is /readyz, for the load balancer. slim images have no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# serve migrates to head, loads the bundled Metropolis plan into an empty database (add
# --empty to skip that), then serves.
CMD ["planpulse", "serve", "--host", "0.0.0.0", "--port", "8000"]
