#!/usr/bin/env bash
# Makes the legacy-encoded samples from expected.csv (the Unicode they must import to), with
# the converter in layers/examples/legacy_text.rs and, for the Shapefile, ogr2ogr writing the
# TCVN3 bytes as they are (no .cpg, as old tools wrote them).
set -euo pipefail
cd "$(dirname "$0")"
convert() { cargo run -q --example legacy_text -p layers -- "$@"; }
convert tcvn3 < expected.csv > heritage_tcvn3.csv
convert vni < expected.csv > heritage_vni.csv
convert cp1258 < expected.csv > heritage_cp1258.csv
convert tcvn3 --seen-as-cp1252 < expected.csv > heritage_tcvn3_saved_as_utf8.csv
rm -f heritage_tcvn3_shp.*
ogr2ogr -q -f "ESRI Shapefile" -lco ENCODING= -a_srs EPSG:4326 \
  -oo X_POSSIBLE_NAMES=lon -oo Y_POSSIBLE_NAMES=lat -oo KEEP_GEOM_COLUMNS=NO \
  -nln heritage_tcvn3_shp heritage_tcvn3_shp.shp heritage_tcvn3.csv
# An empty .cpg says nothing; old tools wrote none.
rm heritage_tcvn3.csv heritage_tcvn3_shp.cpg
