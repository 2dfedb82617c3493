# syntax=docker/dockerfile:1.7
# craftmap: multi-stage build. The wheels of shapely, pyproj, pyogrio and psycopg carry
# their native libraries, so the runtime image needs no GDAL/GEOS from apt.

FROM python:3.11-slim AS builder
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
# Dependencies first (cached while only the code changes), then the project itself.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project
COPY . /src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable
# Leaflet and its plugins for the map pages, pinned by hash (served by the app, no CDN).
RUN CRAFTMAP_MAP_ASSETS_DIR=/opt/map-assets /opt/venv/bin/craftmap map assets

FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="craftmap" \
      org.opencontainers.image.description="Craft villages, raw-material zones and tourism routes on PostGIS"
ENV PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH CRAFTMAP_MAP_ASSETS_DIR=/opt/map-assets
# Pango and DejaVu: WeasyPrint prints the annual report with every Vietnamese glyph.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 1000 --create-home craftmap
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/map-assets /opt/map-assets
# The migrations ship inside the installed packages; the demo data is read from here.
WORKDIR /app
COPY --chown=craftmap:craftmap data /app/data
USER craftmap
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
# Migrations run as their own step (`craftmap migrate`, see compose.yaml), never here.
# Through `craftmap serve`: its logging config writes the JSON access log (uvicorn's own is
# off) and gives slow-starting workers time before uvicorn's health check kills them.
CMD ["craftmap", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
