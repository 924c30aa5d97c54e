#!/usr/bin/env bash
# Seeded generator of the Cần Thơ province, straight into PostGIS.
#   bench/generate-province.sh DATABASE_URL REAL_DATA_DIR sample|bench [EXPORT_DIR]
# REAL_DATA_DIR is the folder of real open data (Natural Earth, GeoNames, GSHHG, ...; see
# data-samples/README.md). The database must have Bando's migrations applied (`bando migrate`).
# With EXPORT_DIR the layers are also written as the sample files shipped in data-samples/.
# Same seed, same scale: same province.
set -euo pipefail
db=$1 real=$2 scale=$3 export=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
case $scale in
  sample) vars=(-v communes=103 -v road_nodes=1200 -v parcels=5000 -v zones=200 -v warehouses=150 -v heritage=120) ;;
  bench)  vars=(-v communes=103 -v road_nodes=105000 -v parcels=500000 -v zones=20000 -v warehouses=5000 -v heritage=2000) ;;
  *) echo "scale must be sample or bench" >&2; exit 2 ;;
esac
pg="PG:$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(f"host={p.hostname} port={p.port or 5432} dbname={p.path[1:]} user={p.username}" + (f" password={p.password}" if p.password else ""))' "$db")"

psql -q -v ON_ERROR_STOP=1 "$db" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS gen CASCADE; CREATE SCHEMA gen"
load() { ogr2ogr -f PostgreSQL "$pg" "$1" -nln "gen.$2" -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST -nlt "${3:-PROMOTE_TO_MULTI}" -oo "${4:-FLATTEN_NESTED_ATTRIBUTES=NO}"; }
load "$real/vn_provinces_2025_from_ne10m.geojson" provinces
load "$real/mekong_delta/places_geonames.geojson" places POINT
load "$real/mekong_delta/ports_searoute.geojson" ports POINT
load "$real/mekong_delta/airports_ourairports.geojson" airports POINT
load "$real/mekong_delta/rivers_gshhg_wdbii.geojson" rivers
psql -q -v ON_ERROR_STOP=1 "$db" -c "CREATE TABLE gen.wards (gso_code text, district_gso_code text, name text, name_with_type text, type text, slug text);
  CREATE TABLE gen.districts (gso_code text, province_gso_code text, name text, name_with_type text, type text, slug text)"
psql -q -v ON_ERROR_STOP=1 "$db" -c "\copy gen.wards FROM '$real/tables/mekong_wards_pre2025_gso.csv' CSV HEADER"
psql -q -v ON_ERROR_STOP=1 "$db" -c "\copy gen.districts FROM '$real/tables/vn_districts_pre2025_gso.csv' CSV HEADER"

time psql -q -v ON_ERROR_STOP=1 "${vars[@]}" "$db" -f "$here/province.sql"
psql -q "$db" -c "SET client_min_messages = warning; DROP SCHEMA gen CASCADE; ANALYZE"
psql "$db" -c "SELECT 'communes' AS layer, count(*) FROM admin.communes UNION ALL SELECT 'roads', count(*) FROM transport.roads
  UNION ALL SELECT 'land_parcels', count(*) FROM env.land_parcels UNION ALL SELECT 'resource_zones', count(*) FROM env.resource_zones
  UNION ALL SELECT 'warehouses', count(*) FROM logistics.warehouses UNION ALL SELECT 'heritage_sites', count(*) FROM heritage.sites
  UNION ALL SELECT 'places', count(*) FROM admin.places UNION ALL SELECT 'rivers', count(*) FROM env.rivers"

[ -z "$export" ] && exit 0
# The shipped files exercise every import format: GeoJSON, GeoPackage, Shapefile (in VN-2000),
# KML and CSV. Coordinates are rounded to 1e-6° (about 10 cm) to keep the files small.
mkdir -p "$export"
out() { rm -f "$export/$1"; ogr2ogr "${@:3}" "$export/$1" "$pg" -sql "$2"; }
geojson=(-f GeoJSON -lco COORDINATE_PRECISION=6 -lco RFC7946=YES)
out communes.geojson "SELECT * FROM admin.communes ORDER BY id" "${geojson[@]}"
out places.geojson "SELECT * FROM admin.places ORDER BY id" "${geojson[@]}"
out rivers.geojson "SELECT * FROM env.rivers ORDER BY id" "${geojson[@]}"
out land_parcels.geojson "SELECT * FROM env.land_parcels ORDER BY id" "${geojson[@]}"
out resource_zones.geojson "SELECT * FROM env.resource_zones ORDER BY id" "${geojson[@]}"
out heritage_sites.geojson "SELECT * FROM heritage.sites ORDER BY id" "${geojson[@]}"
out roads.gpkg "SELECT id, name, class, ref, lanes, surface, width_m, opened_on, ST_ReducePrecision(geom, 1e-6) AS geom FROM transport.roads ORDER BY id" -f GPKG -nln roads
out ports.kml "SELECT id, name, locode, kind, geom FROM transport.ports ORDER BY id" -f KML -nln ports
out airports.csv "SELECT id, name, iata, icao, kind, round(ST_X(geom)::numeric, 6) AS lon, round(ST_Y(geom)::numeric, 6) AS lat FROM transport.airports ORDER BY id" -f CSV
# Warehouses ship in VN-2000 / TM-3 105-45 (EPSG:9210), the zone of Cần Thơ, through the inverse of
# EPSG:6960, so that importing them back exercises the VN-2000 path.
rm -f "$export"/warehouses.*
ogr2ogr -f "ESRI Shapefile" -a_srs EPSG:9210 -lco ENCODING=UTF-8 "$export/warehouses.shp" "$pg" -nln warehouses -sql \
  "SELECT id, name, kind, capacity_t, operator, phone, opened_on,
          ST_SnapToGrid(ST_Transform(geom, '+proj=longlat +datum=WGS84 +no_defs', (SELECT proj_to_wgs84 FROM bando.vn2000_crs WHERE srid = 9210)), 0.001) AS geom
   FROM logistics.warehouses ORDER BY id"
