# The portal's production image. docs/deploy.md explains how to run it.
FROM python:3.13-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_DEBUG=false \
    PORTAL_DATA_DIR=/data

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin portal \
    && mkdir -p /app /data && chown portal:portal /data
WORKDIR /app

# Dependencies first, in their own cached layer.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=portal:portal . .
# Static files collected and compressed at build time (whitenoise's manifest storage).
# The throwaway keys exist only for this build step.
RUN DJANGO_SECRET_KEY=build-only PORTAL_TOKEN_KEYS=YnVpbGQtb25seS1rZXktYnVpbGQtb25seS1rZXktMDA= \
    python manage.py collectstatic --noinput --verbosity 0

USER portal
EXPOSE 8000
VOLUME ["/data"]
CMD ["gunicorn", "portal.wsgi", "--config", "gunicorn.conf.py"]
