#!/usr/bin/env bash
# Installs the system packages Bando needs to build, run and test, if they are missing.
# Debian 12: GDAL (headers for the gdal crate, and ogr2ogr/ogrinfo for the client tests),
# PROJ's command-line tools, PostgreSQL 15 with PostGIS 3, Python's venv for the API tester,
# Noto Sans for map labels, Node.js for the map pages' packages (web/: MapLibre GL JS, and
# playwright-core for the browser test), Chromium for the browser test and OpenSSL's command
# for the HTTPS test's certificates.
set -euo pipefail

need=()
dpkg -s libgdal-dev >/dev/null 2>&1 || need+=(libgdal-dev)
dpkg -s gdal-bin >/dev/null 2>&1 || need+=(gdal-bin)
dpkg -s proj-bin >/dev/null 2>&1 || need+=(proj-bin)
dpkg -s pkg-config >/dev/null 2>&1 || need+=(pkg-config)
dpkg -s fonts-noto-core >/dev/null 2>&1 || need+=(fonts-noto-core)
# Any Node.js 18 or later will do; Debian's is installed only when there is none.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${BANDO_NEED_TEST_TOOLS:-1}" = 1 ]; then
  dpkg -s python3-venv >/dev/null 2>&1 || need+=(python3-venv)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # The HTTPS webhook test makes its certificates with it.
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
fi
if [ "${BANDO_NEED_POSTGIS:-1}" = 1 ]; then
  dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The pinned npm packages of web/, reinstalled when the lockfile changes.
web="$(dirname "$0")/../web"
if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
