#!/usr/bin/env bash
# Runs every test. On a fresh Debian 12 machine with only the Rust toolchain it installs what
# is missing (GDAL, PROJ tools, PostgreSQL 15 + PostGIS 3), starts a throwaway PostGIS cluster
# (its own data directory and port, stopped at the end) unless TEST_DATABASE_URL points at one,
# builds bando and runs the unit and black-box tests.
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

# The black-box tests run the bando binary; build it first, in the same profile.
cargo build --locked --bin bando
cargo test --locked --workspace "$@"
