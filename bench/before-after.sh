#!/usr/bin/env bash
# Two builds of Bando side by side on the bundled sample province (files, no database, tile cache
# off): for a change that should not cost speed, such as a refactoring. Each workload runs on
# each binary in turn, ROUNDS times (2), for SECONDS_PER_RUN each (15), at concurrency 16, gzip
# asked as browsers do; WORKLOADS picks some of items-bbox-100 items-filter items-html tiles.
#   bench/before-after.sh <bando before> <bando after> <loadgen>
# Prints one JSON line per run (loadgen's own) and a table of the best run of each side.
set -euo pipefail
before=$1 after=$2 loadgen=$3
seconds=${SECONDS_PER_RUN:-15}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
port=18190

# Fixed, seeded URL lists over the sample province (105.3–106.4 E, 9.2–10.4 N).
python3 - "$dir" "$port" <<'PY'
import math, random, sys
out, port = sys.argv[1], sys.argv[2]
rng = random.Random(7)
base = f"http://127.0.0.1:{port}"
def box(size):
    w = rng.uniform(105.3, 106.4 - size); s = rng.uniform(9.2, 10.4 - size)
    return f"{w:.4f},{s:.4f},{w + size:.4f},{s + size:.4f}"
def tile(z):
    lon, lat = rng.uniform(105.3, 106.4), rng.uniform(9.2, 10.4)
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{x}/{y}"
lists = {
    "items-bbox-100": [f"{base}/collections/roads/items?bbox={box(0.2)}&limit=100" for _ in range(500)],
    "items-filter": [f"{base}/collections/roads/items?filter=lanes%20%3E%3D%20{rng.randint(1, 4)}&limit=100" for _ in range(500)],
    "items-html": [f"{base}/collections/heritage_sites/items?f=html&limit=50&offset={rng.randint(0, 60)}" for _ in range(500)],
    "tiles": [f"{base}/tiles/communes,roads,rivers,heritage_sites/{tile(rng.randint(8, 15))}.mvt" for _ in range(1000)],
}
for name, urls in lists.items():
    open(f"{out}/{name}.txt", "w").write("\n".join(urls) + "\n")
PY

run() { # label binary workload
  # The benchmark is one client at a high rate: lift the per-address limit.
  BANDO_TILES__CACHE_MB=0 BANDO_LIMITS__REQUESTS_PER_SECOND=1000000 BANDO_LIMITS__BURST=1000000 RUST_LOG=warn "$2" serve --addr "127.0.0.1:$port" &
  local pid=$!
  until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.2; done
  "$loadgen" "$dir/$3.txt" --concurrency 16 --requests 1000000 --max-seconds "$seconds" --gzip --label "$1 $3"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for workload in ${WORKLOADS:-items-bbox-100 items-filter items-html tiles}; do
  for round in $(seq "${ROUNDS:-2}"); do
    run before "$before" "$workload"
    run after "$after" "$workload"
  done
done | tee "$dir/runs.jsonl"

python3 - "$dir/runs.jsonl" <<'PY'
import json, sys, collections
best = {}
for line in open(sys.argv[1]):
    if line.startswith("{"):
        r = json.loads(line)
        side, workload = r["label"].split(" ", 1)
        if r["rps"] > best.get((workload, side), {"rps": 0})["rps"]:
            best[(workload, side)] = r
print("| workload | before req/s (p99 ms) | after req/s (p99 ms) | after/before |")
print("|---|---:|---:|---:|")
for workload in dict.fromkeys(w for w, _ in best):
    b, a = best[(workload, "before")], best[(workload, "after")]
    print(f"| {workload} | {b['rps']:.0f} ({b['p99_ms']:.1f}) | {a['rps']:.0f} ({a['p99_ms']:.1f}) | {a['rps'] / b['rps']:.2f} |")
PY
