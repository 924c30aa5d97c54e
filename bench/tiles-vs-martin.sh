#!/usr/bin/env bash
# Side by side: Bando and Martin serving the same PostGIS tables, the same 2000 tiles, asking for
# gzip as browsers do. Cold (caches off) at concurrency 16 and 64 per layer, then warm. Cold
# also on the list's tiles at zoom 13 and above, where neither drops a feature (the features
# pass counts them on both sides): equal work. RUNS=cold skips the warm runs; CONCURRENCY="16"
# runs the cold lists at that concurrency only.
#   bench/tiles-vs-martin.sh DATABASE_URL BANDO_BIN MARTIN_BIN LOADGEN_BIN [OUT_DIR]
# The database holds the benchmark province (bench/generate-province.sh ... bench). Martin is the
# published release (cargo install martin --version 1.14.0 --no-default-features --features
# postgres); this script only runs the binary it is given. Every run is bounded in time.
set -euo pipefail
db=$1 bando=$2 martin=$3 loadgen=$4 out=${5:-bench/out}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
results="$out/tiles.jsonl"
: >"$results"
psql -X -At "$db" -f "$here/tile-list.sql" >"$out/tiles.txt"
awk -F/ '$1 >= 13' "$out/tiles.txt" >"$out/tiles-z13.txt"
concurrency=${CONCURRENCY:-16 64}

pid=""
start_bando() { # cache_mb
  BANDO_TILES__CACHE_MB=$1 DATABASE_URL=$db RUST_LOG=warn "$bando" --config "$here/bando-bench.toml" serve \
    --addr 127.0.0.1:18080 >"$out/bando.log" 2>&1 &
  pid=$!
  until curl -sf 127.0.0.1:18080/ready >/dev/null; do sleep 0.2; done
}
start_martin() { # cache_mb
  "$martin" --listen-addresses 127.0.0.1:13000 --cache-size "$1" "$db" >"$out/martin.log" 2>&1 &
  pid=$!
  until curl -sf 127.0.0.1:13000/health >/dev/null; do sleep 0.2; done
}
stop() {
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  echo "{\"label\":\"$1 peak RSS\",\"peak_rss_mb\":$((rss / 1024))}" >>"$results"
}
urls() { # server layer [list]
  local list=${3:-tiles}
  case $1 in
    bando) sed "s|^|http://127.0.0.1:18080/tiles/$2/|; s|$|.mvt|" "$out/$list.txt" ;;
    martin) sed "s|^|http://127.0.0.1:13000/$2/|" "$out/$list.txt" ;;
  esac >"$out/urls-$1-$2-$list.txt"
  echo "$out/urls-$1-$2-$list.txt"
}
load() { # label urls extra-args...
  local label=$1 list=$2
  shift 2
  "$loadgen" "$list" --gzip --label "$label" "$@" | tee -a "$results"
}

for server in bando martin; do
  "start_$server" 0
  for layer in roads land_parcels; do
    list=$(urls $server $layer)
    load "$server cold $layer features" "$list" --concurrency 4 --count-features --max-seconds 60
    # One request at a time: each tile's own cold latency (Martin's would take an hour).
    [ $server = bando ] && load "$server cold $layer c1" "$list" --concurrency 1 --max-seconds 60
    for c in $concurrency; do
      load "$server cold $layer c$c" "$list" --concurrency $c --max-seconds 60
    done
    list=$(urls $server $layer tiles-z13)
    load "$server cold $layer z13+ features" "$list" --concurrency 4 --count-features --max-seconds 60
    load "$server cold $layer z13+ c16" "$list" --concurrency 16 --max-seconds 60
  done
  stop "$server cold"
done

for server in bando martin; do
  [ "${RUNS:-cold warm}" = cold ] && break
  "start_$server" 2048
  for layer in roads land_parcels; do
    list=$(urls $server $layer)
    load "$server warm-up $layer" "$list" --concurrency 16 --max-seconds 300 >/dev/null
    for c in 16 64; do
      load "$server warm $layer c$c" "$list" --concurrency $c --requests 20000 --max-seconds 30
    done
  done
  stop "$server warm"
done

python3 "$here/summarize.py" "$results"
