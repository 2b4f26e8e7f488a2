# The portal's production image. docs/deploy.md explains how to run it.
#
#   docker build -t iot-portal .
#   docker run --rm --env-file portal.env iot-portal python manage.py migrate   # once per upgrade
#   docker run -d --env-file portal.env -p 8000:8000 iot-portal
#   docker run -d --env-file portal.env iot-portal python manage.py db_worker --queue-name '*'
#                                       # the background worker (fleet jobs): same image and env
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_DEBUG=false \
    PORTAL_DATA_DIR=/data \
    PORTAL_BIND=0.0.0.0:8000

# A system user without a shell. The code stays owned by root, so the running portal cannot
# change it; only /data (the SQLite database, when DATABASE_URL is not set) is writable.
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin portal \
    && mkdir -p /app /data && chown portal:portal /data
WORKDIR /app

# Pinned dependencies first, in their own layer: it is rebuilt only when requirements.txt
# changes, not on every code change.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files collected and compressed at build time (whitenoise's manifest storage: hashed
# names, gzip), and the code compiled once here rather than at each start.
# The throwaway keys exist only for this build step; no database is touched.
RUN DJANGO_SECRET_KEY=build-only \
    PORTAL_TOKEN_KEYS=YnVpbGQtb25seS1rZXktYnVpbGQtb25seS1rZXktMDA= \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q /app

USER portal
EXPOSE 8000
VOLUME ["/data"]
# /healthz: the process answers and the database is reachable. Python, not curl: the slim
# base has no curl, and one fewer package is one fewer thing to patch. In a worker container
# (`python manage.py db_worker ...`) the same script checks that the worker says it is alive.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/bin/healthcheck.py"]
# Migrations are NOT run here: run `python manage.py migrate` once per upgrade, before
# starting the new version (docs/deploy.md, "Upgrading").
# The worker is the same image with its own command: python manage.py db_worker --queue-name '*'
# (docker-compose.yml's `worker` service). SIGTERM lets it finish the call it is making.
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
