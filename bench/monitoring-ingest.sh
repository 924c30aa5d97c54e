#!/usr/bin/env bash
# Monitoring ingestion, in one run on one machine (server, PostGIS and load generator together):
# observations/s through single POSTs (concurrency 16) and through `dataArray` batches of 1000
# (concurrency 4), as fast as answered and paced at the target rates, each with the alert latency (an over-limit reading answered 201 → its alert on
# `/alerts/stream`) measured at that rate; tiles and items latency on the same server idle and
# under each write load; and the ceiling, PostgreSQL's own COPY of rows of the same shape into
# the same partitioned table.
#   [READ_RATE=1000] bench/monitoring-ingest.sh DATABASE_URL BANDO MONITORING LOADGEN [SECONDS]
# DATABASE_URL: a database with the sample province imported (`bando import --all`), whose
# tiles and items are read during the writes. BANDO, MONITORING and LOADGEN are release binaries
# (`cargo build --release --bin bando -p bench --bin monitoring --bin loadgen`).
set -euo pipefail
db=$1 bando=$2 monitoring=$3 loadgen=$4 seconds=${5:-10}
dir=$(mktemp -d /tmp/monitoring-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
base=http://127.0.0.1:18191

hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
operator=bando_benchop_$(printf '0%.0s' $(seq 1 64))
station=bando_benchstation_$(printf '1%.0s' $(seq 1 64))

psql -q "$db" -c "TRUNCATE sta.things, sta.sensors, sta.observed_properties, sta.alerts CASCADE" 2>/dev/null || true
# The sample configuration, its database, the two keys, no rate limit.
export DATABASE_URL=$db RUST_LOG=warn
keys="[{id=\"benchop\", role=\"editor\", hash=\"sha256:$(hash "$operator")\"}, {id=\"benchstation\", role=\"station\", hash=\"sha256:$(hash "$station")\"}]"
env "BANDO_KEYS=$keys" BANDO_LIMITS__REQUESTS_PER_SECOND=1000000 BANDO_LIMITS__BURST=1000000 \
  BANDO_MONITORING__MAX_OBSERVATIONS=100000 "$bando" serve --addr 127.0.0.1:18191 &
for _ in $(seq 1 600); do curl -sf "$base/ready" >/dev/null && break; sleep 0.1; done

# The sample stations, with a day of readings. The clients write to the COD datastreams of every
# station in turn (the first also takes the alert latency's readings).
"$monitoring" seed "$base" --key "$operator" --station-key benchstation >"$dir/seed.json"
streams=$(psql -At "$db" -c "SELECT string_agg(d.id::text, ',' ORDER BY d.id) FROM sta.datastreams d JOIN sta.observed_properties p ON p.id = d.observed_property_id WHERE p.name = 'COD'")
cod=${streams%%,*}
feature=$(psql -At "$db" -c "SELECT feature_id FROM sta.observations WHERE datastream_id = $cod LIMIT 1")

# What is read meanwhile: tiles of the sample's communes and roads, and bbox pages of its roads,
# around the city.
python3 - "$base" >"$dir/reads.txt" <<'PY'
import math, sys
base = sys.argv[1]
def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y
for z in (12, 13, 14):
    x0, y1 = tile(105.70, 9.98, z)
    x1, y0 = tile(105.82, 10.08, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(f"{base}/tiles/communes,roads/{z}/{x}/{y}.mvt")
for i in range(40):
    lon, lat = 105.70 + (i % 8) * 0.015, 9.98 + (i // 8) * 0.02
    print(f"{base}/collections/roads/items?bbox={lon},{lat},{lon + 0.02},{lat + 0.02}&limit=100")
PY
# Reads as fast as answered (they and the writes share the two cores: what is the reads' share),
# then paced at READ_RATE requests/s, latency counted from when each was due (what a map client
# sees at a given read load).
read_rate=${READ_RATE:-1000}
reads() {
  # shellcheck disable=SC2086 # $2 is empty or two words
  "$loadgen" "$dir/reads.txt" --gzip --concurrency 4 --requests 100000000 --max-seconds "$seconds" --label "$1" $2
}

echo "seed: $(cat "$dir/seed.json")"
for reading in max "$read_rate"; do
  read_pace=$([ "$reading" = max ] || echo "--rate $reading")
  echo "reads at $reading, idle: $(reads "idle" "$read_pace")"
  # Each write load as fast as it is answered, then paced at the issue's target rate (2 000/s
  # single, 20 000/s batched).
  for load in "1 max" "1000 max" "1 2000" "1000 20000"; do
    read -r batch rate <<<"$load"
    concurrency=$([ "$batch" = 1 ] && echo 16 || echo 4)
    pace=$([ "$rate" = max ] || echo "--rate $rate")
    reads "under batch $batch at $rate" "$read_pace" >"$dir/reads.json" &
    reader=$!
    # shellcheck disable=SC2086 # $pace is empty or two words
    echo "ingest batch $batch at $rate: $("$monitoring" ingest "$base" --key "$station" --datastreams "$streams" \
      --batch "$batch" --concurrency "$concurrency" --seconds "$seconds" --values 50 500 $pace)"
    wait "$reader"
    echo "reads at $reading, under batch $batch at $rate: $(cat "$dir/reads.json")"
  done
done
echo "ceiling: $("$monitoring" copy "$db" --datastream "$cod" --feature "$feature" --rows 500000)"
