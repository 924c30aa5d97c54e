#!/usr/bin/env bash
# Installs the system packages Bando needs to build, run and test, if they are missing.
# Debian 12: GDAL (headers for the gdal crate, and ogr2ogr/ogrinfo for the client tests),
# PROJ's command-line tools, PostgreSQL 15 with PostGIS 3, and Python's venv for the API tester.
set -euo pipefail

need=()
dpkg -s libgdal-dev >/dev/null 2>&1 || need+=(libgdal-dev)
dpkg -s gdal-bin >/dev/null 2>&1 || need+=(gdal-bin)
dpkg -s proj-bin >/dev/null 2>&1 || need+=(proj-bin)
dpkg -s pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ "${BANDO_NEED_TEST_TOOLS:-1}" = 1 ]; then
  dpkg -s python3-venv >/dev/null 2>&1 || need+=(python3-venv)
fi
if [ "${BANDO_NEED_POSTGIS:-1}" = 1 ]; then
  dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "installing: ${need[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
