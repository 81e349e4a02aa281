# Wiredesk in a container: the daemon (collect, publish, serve on :8080) as a non-root user.
#
#   docker build -t wiredesk .
#   docker run -d --name wiredesk -p 8080:8080 \
#     -v wiredesk-data:/var/lib/wiredesk/data -v wiredesk-feeds:/var/lib/wiredesk/feeds \
#     wiredesk
#
# The config is /config/feeds.yaml (deploy/feeds.yaml, baked in; mount your own over it
# with -v ./feeds.yaml:/config/feeds.yaml:ro). The server listens on the config's
# server.host, which must be 0.0.0.0 in a container: 127.0.0.1 there is the container's
# own loopback, which a published port never reaches. HEALTHCHECK assumes port 8080.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/wiredesk
COPY pyproject.toml README.md ./
COPY aggregator ./aggregator
RUN pip install . \
 && useradd --system --user-group --uid 10001 --home-dir /var/lib/wiredesk \
      --shell /usr/sbin/nologin wiredesk \
 && install -d -o wiredesk -g wiredesk \
      /var/lib/wiredesk /var/lib/wiredesk/data /var/lib/wiredesk/feeds /var/lib/wiredesk/seeds

COPY deploy/feeds.yaml /config/feeds.yaml
COPY --chown=wiredesk:wiredesk seeds/ /var/lib/wiredesk/seeds/

USER wiredesk
# Declared after the chown above: a new named volume copies this ownership.
VOLUME ["/var/lib/wiredesk/data", "/var/lib/wiredesk/feeds"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# Exec form: wiredesk is PID 1 and gets docker stop's SIGTERM itself.
CMD ["wiredesk", "run", "--config", "/config/feeds.yaml"]
