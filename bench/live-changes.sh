#!/usr/bin/env bash
# Live changes on the benchmark province (500 000 parcels), two replicas on one PostGIS:
#  1. propagation: 1 000 single-row updates of env.land_parcels spread over 60 s while both
#     replicas serve tiles and items at concurrency 8 each (16 in all); time from COMMIT to the
#     replica announcing the change (right after it is visible in /items/{id});
#  2. cache: after a warm pass over the 2 000-tile list, 1 000 scattered changes, then the list
#     again: tiles re-rendered against tiles the changed parcels touch (PostGIS counts them);
#  3. cost: server CPU per applied change and resident memory over 10 000 changes, then past the
#     compaction threshold;
#  4. write throughput with the change capture on and off, 1 and 8 connections (pgbench).
#   bench/live-changes.sh DATABASE_URL BANDO_BIN LOADGEN_BIN PROPAGATION_BIN [OUT_DIR]
# Every run is bounded in time. Results are JSON lines in OUT_DIR/live.jsonl.
set -euo pipefail
db=$1 bando=$2 loadgen=$3 propagation=$4 out=${5:-bench/out}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
results="$out/live.jsonl"
: >"$results"
psql -X -At "$db" -f "$here/tile-list.sql" >"$out/tiles.txt"
psql -X -At -F $'\t' "$db" -f "$here/items-list.sql" >"$out/items.txt"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; psql -X -q "$db" -c "ALTER TABLE env.land_parcels ENABLE TRIGGER USER"' EXIT
start() { # port
  BANDO_TILES__CACHE_MB=2048 DATABASE_URL=$db RUST_LOG=info "$bando" --config "$here/bando-bench.toml" serve \
    --addr "127.0.0.1:$1" >"$out/replica-$1.log" 2>&1 &
  pids+=($!)
  until curl -sf "127.0.0.1:$1/ready" >/dev/null; do sleep 0.2; done
}
metric() { # port name
  curl -s "127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'
}
cpu_seconds() { # pid: user + system
  awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"
}
rss_mb() { # pid
  awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$1/status"
}
record() { # json
  echo "$1" | tee -a "$results"
}

start 18091
start 18092
for port in 18091 18092; do
  sed "s|^|http://127.0.0.1:$port/tiles/land_parcels/|; s|$|.mvt|" "$out/tiles.txt" >"$out/mixed-$port.txt"
  awk -F'\t' -v base="http://127.0.0.1:$port" '$1 == "bbox100" {print base $2}' "$out/items.txt" >>"$out/mixed-$port.txt"
  shuf --random-source=<(yes) "$out/mixed-$port.txt" -o "$out/mixed-$port.txt"
done

# 1. Propagation under load.
loads=()
for port in 18091 18092; do
  "$loadgen" "$out/mixed-$port.txt" --gzip --concurrency 8 --requests 10000000 --max-seconds 66 \
    --label "load on $port during propagation" >>"$results" &
  loads+=($!)
done
sleep 2
"$propagation" "$db" env.land_parcels land_parcels http://127.0.0.1:18091 http://127.0.0.1:18092 \
  --changes 1000 --seconds 60 | sed 's/^/{"run":"propagation under load",/; s/,{/,/' | tee -a "$results"
wait "${loads[@]}"

# 2. Cache: warm, change, replay.
"$loadgen" "$out/mixed-18091.txt" --gzip --concurrency 8 --max-seconds 60 --label "warm pass" >/dev/null
grep '/tiles/' "$out/mixed-18091.txt" >"$out/tiles-18091.txt"
"$loadgen" "$out/tiles-18091.txt" --gzip --concurrency 8 --max-seconds 60 --label "warm tiles" >/dev/null
misses_before=$(metric 18091 bando_tile_cache_misses_total)
"$propagation" "$db" env.land_parcels land_parcels http://127.0.0.1:18091 --changes 1000 --seconds 10 \
  --ids-out "$out/changed-ids.txt" >/dev/null
sleep 3
"$loadgen" "$out/tiles-18091.txt" --gzip --concurrency 8 --max-seconds 60 --label "tiles after 1000 changes" >/dev/null
misses_after=$(metric 18091 bando_tile_cache_misses_total)
touched=$(psql -X -At -q "$db" <<SQL
CREATE TEMP TABLE changed (id bigint);
\copy changed FROM '$out/changed-ids.txt'
CREATE TEMP TABLE tiles (t text);
\copy tiles FROM '$out/tiles.txt'
SELECT count(DISTINCT t) FROM tiles
WHERE EXISTS (SELECT FROM env.land_parcels p JOIN changed USING (id)
              WHERE ST_Transform(p.geom, 3857) && ST_TileEnvelope(split_part(t, '/', 1)::int, split_part(t, '/', 2)::int,
                                                                  split_part(t, '/', 3)::int, margin => 64.0 / 4096));
SQL
)
record "{\"run\":\"cache after 1000 scattered changes\",\"distinct_tiles\":$(sort -u "$out/tiles.txt" | wc -l),\"rerendered\":$((misses_after - misses_before)),\"touched_by_changes\":$touched}"

# 3. Cost per change, no other load.
pid=${pids[0]}
kill "${pids[1]}"
cpu0=$(cpu_seconds "$pid") rss0=$(rss_mb "$pid")
sleep 40
idle=$(echo "$(cpu_seconds "$pid") - $cpu0" | bc)
cpu1=$(cpu_seconds "$pid")
"$propagation" "$db" env.land_parcels land_parcels http://127.0.0.1:18091 --changes 10000 --seconds 40 >/dev/null
cpu2=$(cpu_seconds "$pid") rss2=$(rss_mb "$pid") pending=$(curl -s 127.0.0.1:18091/metrics | awk '$1 == "bando_layer_pending_changes{layer=\"land_parcels\"}" {print $2}')
reloads=$(metric 18091 bando_layer_reloads_total)
record "{\"run\":\"cost of 10000 changes\",\"cpu_ms_per_change\":$(echo "($cpu2 - $cpu1 - $idle) * 1000 / 10000" | bc -l | cut -c1-6),\"idle_cpu_s_per_40s\":$idle,\"rss_mb_before\":$rss0,\"rss_mb_after\":$rss2,\"pending\":$pending,\"reloads\":$reloads}"
"$propagation" "$db" env.land_parcels land_parcels http://127.0.0.1:18091 --changes 12000 --seconds 40 >/dev/null
sleep 2
record "{\"run\":\"after 22000 changes (compaction past 19721 pending)\",\"rss_mb\":$(rss_mb "$pid"),\"pending\":$(curl -s 127.0.0.1:18091/metrics | awk '$1 == "bando_layer_pending_changes{layer=\"land_parcels\"}" {print $2}'),\"reloads\":$(metric 18091 bando_layer_reloads_total)}"
kill "$pid"

# 4. Write throughput, capture on and off.
script=$(mktemp)
printf '\\set id random(1, 499997)\nUPDATE env.land_parcels SET area_m2 = area_m2 WHERE id = :id;\n' >"$script"
for capture in on off; do
  [ $capture = off ] && psql -X -q "$db" -c "ALTER TABLE env.land_parcels DISABLE TRIGGER USER"
  for c in 1 8; do
    tps=$(pgbench -n -T 10 -j 2 -c "$c" -f "$script" "$db" 2>/dev/null | awk '/^tps/ {print $3}')
    record "{\"run\":\"single-row updates per second\",\"capture\":\"$capture\",\"connections\":$c,\"tps\":$tps}"
  done
done
psql -X -q "$db" -c "ALTER TABLE env.land_parcels ENABLE TRIGGER USER"
