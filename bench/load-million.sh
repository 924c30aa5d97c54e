#!/usr/bin/env bash
# Loads a layer of 1 000 000 parcel polygons from PostGIS into Bando's index and reports the
# time to ready and the memory: the foundation's target is under 10 s and under 1 GiB.
#   bench/load-million.sh DATABASE_URL BANDO_BIN
# The database holds the benchmark province (and no layers made by imports, which would be
# loaded too); the million-row table, in a schema of its own, is made from its parcels
# (copies shifted 0.5° and 1° east, cut at a million rows) the first time.
set -euo pipefail
db=$1 bando=$2
here=$(cd "$(dirname "$0")" && pwd)
psql -X -q "$db" <<'SQL'
CREATE SCHEMA IF NOT EXISTS million;
CREATE TABLE IF NOT EXISTS million.parcels AS
SELECT id, parcel_no, sheet_no, land_use, area_m2, commune_code, owner_name, id_number, registered_on, geom
FROM env.land_parcels
UNION ALL
SELECT id + 10000000, parcel_no, sheet_no, land_use, area_m2, commune_code, owner_name, id_number, registered_on,
       ST_Translate(geom, 0.5, 0)
FROM env.land_parcels
UNION ALL
SELECT id + 20000000, parcel_no, sheet_no, land_use, area_m2, commune_code, owner_name, id_number, registered_on,
       ST_Translate(geom, 1.0, 0)
FROM env.land_parcels
ORDER BY id LIMIT 1000000;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'million.parcels'::regclass AND indisprimary) THEN
    ALTER TABLE million.parcels ADD PRIMARY KEY (id);
  END IF;
END $$;
ANALYZE million.parcels;
SQL
cat >"${TMPDIR:-/tmp}/bando-million.toml" <<'TOML'
[database.auto_publish]
schemas = ["million"]
access = "public"
TOML
log=$(mktemp)
start=$(date +%s.%N)
DATABASE_URL=$db RUST_LOG=info "$bando" --config "${TMPDIR:-/tmp}/bando-million.toml" serve --addr 127.0.0.1:18081 >"$log" 2>&1 &
pid=$!
until curl -sf 127.0.0.1:18081/ready >/dev/null; do sleep 0.05; done
ready=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
kill "$pid"
wait "$pid" 2>/dev/null || true
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'layer loaded.*million.*' || true
echo "features: $(psql -X -At "$db" -c 'SELECT count(*) FROM million.parcels')"
echo "seconds from start to ready (connect, migrate, stream, index): $(echo "$ready - $start" | bc)"
echo "resident memory when ready: $((rss / 1024)) MB, peak: $((hwm / 1024)) MB"
rm -f "$log"
