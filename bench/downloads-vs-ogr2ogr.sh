#!/usr/bin/env bash
# Whole-layer downloads and tile packages on the benchmark province.
#   bench/downloads-vs-ogr2ogr.sh DATABASE_URL BANDO_BIN [MARTIN_CP_BIN] [OUT_DIR]
# Downloads: `GET /items?f=gpkg` (and fgb, csv) of the 314 333 roads and 499 997 parcels, side
# by side with `ogr2ogr` writing the same table from PostGIS to the same format (Bando serves
# from memory; ogr2ogr reads the database). Packages: `bando export` of roads, then parcels,
# zooms 6-14 over the province, each beside `martin-cp` (Martin's tile copier, at concurrency 2
# on this 2-core machine) when its path is given. Each timing is one run, one tool after the other.
set -euo pipefail
db=$1 bando=$2 martin_cp=${3:-} out=${4:-bench/out}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
pg="PG:$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(f"host={p.hostname} port={p.port or 5432} dbname={p.path[1:]} user={p.username}")' "$db")"
addr=127.0.0.1:18282

# The benchmark layers, with time enough for a whole layer.
sed 's/^\[limits\]/[limits]\nrequest_timeout_s = 600/' "$here/bando-bench.toml" >"$out/bando-downloads.toml"
DATABASE_URL=$db RUST_LOG=warn "$bando" --config "$out/bando-downloads.toml" serve --addr "$addr" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do curl -sf "http://$addr/ready" >/dev/null && break; sleep 0.25; done
curl -sf "http://$addr/ready" >/dev/null || { echo "bando did not get ready" >&2; exit 1; }

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
row() { printf '%-34s %8s features %7.1f s %9.0f features/s  %6.0f MB\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)" "$(echo "$4 / 1048576" | bc -l)"; }

for layer in roads:transport.roads land_parcels:env.land_parcels; do
  id=${layer%%:*} table=${layer#*:}
  n=$(psql -X -At "$db" -c "SELECT count(*) FROM $table")
  for f in gpkg:GPKG fgb:FlatGeobuf csv:CSV; do
    ext=${f%%:*} driver=${f#*:}
    rm -f "$out/$id.bando.$ext" "$out/$id.ogr.$ext"
    b=$(seconds curl -sf -o "$out/$id.bando.$ext" "http://$addr/collections/$id/items?f=$ext")
    lco=(); [ "$driver" = CSV ] && lco=(-lco GEOMETRY=AS_WKT)
    o=$(seconds ogr2ogr -f "$driver" "$out/$id.ogr.$ext" "$pg" "$table" -nln "$id" "${lco[@]}")
    row "bando $id f=$ext" "$n" "$b" "$(stat -c %s "$out/$id.bando.$ext")"
    row "ogr2ogr $id -f $driver" "$n" "$o" "$(stat -c %s "$out/$id.ogr.$ext")"
    printf '%-34s %.2f×\n' "  bando ÷ ogr2ogr" "$(echo "$o / $b" | bc -l)"
  done
done
rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
echo "bando peak resident memory: $((rss / 1024)) MB"
kill $server

bbox=$(psql -X -At "$db" -c "SELECT concat_ws(',', ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) FROM (SELECT ST_Extent(geom) e FROM env.land_parcels) x")
for id in roads land_parcels; do
  b=$(seconds env DATABASE_URL="$db" "$bando" --config "$here/bando-bench.toml" export --layers "$id" \
    --minzoom 6 --maxzoom 14 --bbox "$bbox" -o "$out/$id.pmtiles")
  tiles=$(python3 -c 'import sys; d=open(sys.argv[1], "rb").read(127); print(int.from_bytes(d[72:80], "little"))' "$out/$id.pmtiles")
  printf '%-34s %6s tiles %7.1f s %7.0f tiles/s %6.0f MB (layer loading included)\n' "bando export $id z6-14" "$tiles" "$b" \
    "$(echo "$tiles / $b" | bc -l)" "$(echo "$(stat -c %s "$out/$id.pmtiles") / 1048576" | bc -l)"
  [ -n "$martin_cp" ] || continue
  rm -f "$out/$id.mbtiles"
  m=$(RUST_LOG=error seconds "$martin_cp" "$db" -s "$id" -o "$out/$id.mbtiles" --min-zoom 6 --max-zoom 14 --bbox "$bbox" --concurrency 2)
  mt=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tiles").fetchone()[0])' "$out/$id.mbtiles")
  printf '%-34s %6s tiles %7.1f s %7.0f tiles/s %6.0f MB\n' "martin-cp $id z6-14" "$mt" "$m" "$(echo "$mt / $m" | bc -l)" \
    "$(echo "$(stat -c %s "$out/$id.mbtiles") / 1048576" | bc -l)"
  printf '%-34s %.1f×\n' "  bando ÷ martin-cp" "$(echo "$m / $b" | bc -l)"
done
