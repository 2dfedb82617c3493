#!/usr/bin/env bash
# Installs what craftmap needs from the system on Debian/Ubuntu, only what is missing:
# PostgreSQL with PostGIS and pgRouting, Chromium for the browser tests, and uv (from PyPI).
# As root it uses apt-get; otherwise it names the packages to install and carries on
# (craftmap's own commands then say again what is missing).
set -euo pipefail

apt_updated=0
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
apt_install() {
  local wanted=()
  for pkg in "$@"; do installed "$pkg" || wanted+=("$pkg"); done
  [ ${#wanted[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "craftmap needs: apt-get install ${wanted[*]} (run it as root)" >&2
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  [ $apt_updated = 1 ] || { apt-get update -qq; apt_updated=1; }
  echo "Installing with apt-get: ${wanted[*]}"
  apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
}
pg_major() {
  ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed 's|/usr/lib/postgresql/\([0-9]*\)/.*|\1|' | sort -n | tail -n1
}

if [ -z "${DATABASE_URL:-}" ]; then
  [ -n "$(pg_major)" ] || apt_install postgresql
  major=$(pg_major)
  # pgRouting builds and routes the road network (issue 13) in the same cluster.
  [ -z "$major" ] || apt_install "postgresql-${major}-postgis-3" "postgresql-${major}-pgrouting"
fi
if [ "${CRAFTMAP_BROWSER_TESTS:-1}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi

# poppler-utils (pdftoppm) renders the printed route page to PNG in the browser tests.
if [ "${CRAFTMAP_BROWSER_TESTS:-1}" = 1 ] && ! command -v pdftoppm >/dev/null 2>&1; then
  apt_install poppler-utils
fi

# The annual report is a PDF made by WeasyPrint: it needs Pango, and DejaVu has every
# Vietnamese glyph (ệ, ử, ợ) the report prints.
if ! ls /usr/lib/*/libpangoft2-1.0.so.0 >/dev/null 2>&1; then
  apt_install libpango-1.0-0 libpangoft2-1.0-0
fi
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_install fonts-dejavu-core

# python3-qgis lets one test open the province GeoPackage in QGIS and check its styles
# (about 1 GB, so only in CI or on request; elsewhere that one check is skipped).
if { [ -n "${CI:-}" ] || [ "${CRAFTMAP_QGIS_TESTS:-0}" = 1 ]; } && ! /usr/bin/python3 -c "import qgis.core" 2>/dev/null; then
  apt_install python3-qgis || echo "python3-qgis could not be installed: the QGIS check will be skipped" >&2
fi

# wrk is the benchmark's load generator (bench/run.py and its tiny run in the tests).
command -v wrk >/dev/null 2>&1 || apt_install wrk

if ! command -v uv >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/uv" ]; then
  echo "Installing uv from PyPI"
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
fi
