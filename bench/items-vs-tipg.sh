#!/usr/bin/env bash
# Side by side: Bando and tipg serving features as GeoJSON (OGC API - Features items) from the
# same PostGIS tables, the same 2000 requests per workload (bench/items-list.sql): parcels by
# bbox at limit=100 and limit=1000, roads by bbox at limit=100, parcels and roads by a CQL2
# attribute filter, heritage sites by a word of their names. Concurrency 16, each run stopped
# after 60 s (WORKLOADS="filter …" runs only those).
#   bench/items-vs-tipg.sh DATABASE_URL BANDO_BIN TIPG_UVICORN_OR_PYTHON LOADGEN_BIN [OUT_DIR]
# The database holds the benchmark province (bench/generate-province.sh ... bench). tipg is the
# released package (pip install tipg==1.6.1 uvicorn, in a virtual environment); the third argument
# is that environment's uvicorn or python. SERVERS="tipg" (or "bando") runs one server only.
# Neither server compresses these responses unasked, and loadgen does not ask (no --gzip).
set -euo pipefail
db=$1 bando=$2 tipg=$3 loadgen=$4 out=${5:-bench/out}
servers=${SERVERS:-bando tipg}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
results="$out/items.jsonl"
: >"$results"
psql -X -At -F $'\t' "$db" -f "$here/items-list.sql" >"$out/items.txt"

pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; true' EXIT
wait_ready() { # url log: up to 120 s, or the server's exit
  for _ in $(seq 600); do
    curl -sf "$1" >/dev/null && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "server not ready at $1; see $2" >&2
  exit 1
}
start_bando() {
  DATABASE_URL=$db RUST_LOG=warn "$bando" --config "$here/bando-bench.toml" serve \
    --addr 127.0.0.1:18080 >"$out/bando.log" 2>&1 &
  pid=$!
  wait_ready 127.0.0.1:18080/ready "$out/bando.log"
}
start_tipg() {
  # One uvicorn process (its default), the schemas of the province only, and a pool of 16
  # connections (the default is 10) so that no request of the 16 in flight waits for one.
  local run=("$tipg")
  case $(basename "$tipg") in python*) run=("$tipg" -m uvicorn) ;; esac
  DATABASE_URL=$db TIPG_DB_SCHEMAS='["env","transport","heritage","logistics","admin"]' DB_MAX_CONN_SIZE=16 \
    "${run[@]}" tipg.main:app --host 127.0.0.1 --port 18081 --no-access-log --log-level warning \
    >"$out/tipg.log" 2>&1 &
  pid=$!
  wait_ready 127.0.0.1:18081/healthz "$out/tipg.log"
}
stop() {
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  echo "{\"label\":\"$1 peak RSS\",\"peak_rss_mb\":$((rss / 1024))}" >>"$results"
}
urls() { # server workload
  case $1 in
    bando) awk -F'\t' -v w="$2" '$1 == w {print "http://127.0.0.1:18080" $2}' "$out/items.txt" ;;
    tipg) awk -F'\t' -v w="$2" '$1 == w {print "http://127.0.0.1:18081" $3}' "$out/items.txt" ;;
  esac >"$out/urls-$1-$2.txt"
  echo "$out/urls-$1-$2.txt"
}

for server in $servers; do
  "start_$server"
  for workload in ${WORKLOADS:-bbox100 bbox100_roads bbox1000 filter filter_roads search}; do
    "$loadgen" "$(urls "$server" $workload)" --concurrency 16 --max-seconds 60 \
      --label "$server $workload c16" | tee -a "$results"
  done
  stop "$server"
done

python3 "$here/summarize.py" "$results"
