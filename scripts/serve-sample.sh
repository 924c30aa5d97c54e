#!/usr/bin/env bash
# Builds and runs Bando on the bundled sample province at http://127.0.0.1:8080, from files (no
# database needed). Installs GDAL first if it is missing. Extra arguments go to `bando serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
BANDO_NEED_POSTGIS=0 BANDO_NEED_TEST_TOOLS=0 scripts/install-deps.sh
exec cargo run --locked --release --bin bando -- serve "$@"
