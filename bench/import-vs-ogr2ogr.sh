#!/usr/bin/env bash
# Import throughput, side by side: `bando import` and `ogr2ogr -f PostgreSQL` loading the same
# GeoPackage of the benchmark province's 500 000 parcels into the same database.
#   bench/import-vs-ogr2ogr.sh DATABASE_URL BANDO_BIN [OUT_DIR]
# Bando does more per row (reprojection check, validity repair, de-duplication, one
# transaction with a swap); ogr2ogr only copies.
set -euo pipefail
db=$1 bando=$2 out=${3:-bench/out}
mkdir -p "$out"
pg="PG:$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(f"host={p.hostname} port={p.port or 5432} dbname={p.path[1:]} user={p.username}")' "$db")"
gpkg="$out/parcels.gpkg"
[ -f "$gpkg" ] || ogr2ogr -f GPKG "$gpkg" "$pg" -sql "SELECT * FROM env.land_parcels ORDER BY id" -nln parcels
rows=$(ogrinfo -ro -so "$gpkg" parcels | awk -F': ' '/Feature Count/ {print $2}')
psql -X -q "$db" -c "DROP TABLE IF EXISTS public.ogr_parcels; DROP TABLE IF EXISTS public.bando_parcels; DELETE FROM bando.layers WHERE id = 'bando_parcels'"

t0=$(date +%s.%N)
DATABASE_URL=$db "$bando" import "$gpkg" --layer bando_parcels >/dev/null
t1=$(date +%s.%N)
# Schema-qualified: a database user named like a schema (bando) would otherwise get it first.
ogr2ogr -f PostgreSQL "$pg" "$gpkg" -nln public.ogr_parcels -lco GEOMETRY_NAME=geom -nlt PROMOTE_TO_MULTI
t2=$(date +%s.%N)
b=$(echo "$t1 - $t0" | bc) o=$(echo "$t2 - $t1" | bc)
printf '%-22s %8s rows %8.1f s %10.0f rows/s\n' "bando import" "$rows" "$b" "$(echo "$rows / $b" | bc -l)"
printf '%-22s %8s rows %8.1f s %10.0f rows/s\n' "ogr2ogr -f PostgreSQL" "$rows" "$o" "$(echo "$rows / $o" | bc -l)"
psql -X -At "$db" -c "SELECT 'rows in tables: bando ' || (SELECT count(*) FROM public.bando_parcels) || ', ogr2ogr ' || (SELECT count(*) FROM public.ogr_parcels)"
# Leave the database as it was: the imported layer would otherwise be served by later runs.
psql -X -q "$db" -c "DROP TABLE public.ogr_parcels, public.bando_parcels; DELETE FROM bando.layers WHERE id = 'bando_parcels'"
