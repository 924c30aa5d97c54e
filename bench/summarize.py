"""Prints the side-by-side table of a tiles-vs-martin.sh or items-vs-tipg.sh run: one row per run,
each Bando run followed by the same run of the other server, Bando's over its requests/s as the
ratio."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
runs = {r["label"]: r for r in rows if "rps" in r}
peer = next((label.split()[0] for label in runs if label.split()[0] != "bando"), "martin")
vs = "vs " + {"martin": "Martin"}.get(peer, peer)
print(f"{'run':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'mean kB':>9}{'max kB':>8}{'feat/tile':>10}{vs:>11}")
printed = set()
for label, r in runs.items():
    pair = [label, label.replace("bando", peer, 1)] if label.startswith("bando") else [label]
    for name in pair:
        run = runs.get(name)
        if not run or name in printed:
            continue
        printed.add(name)
        ratio = ""
        other = runs.get(label.replace("bando", peer, 1))
        if name.startswith("bando") and other and other["rps"] > 0:
            ratio = f"{r['rps'] / other['rps']:.1f}x"
        feats = f"{run['mean_features']:.0f}" if run.get("mean_features") is not None else ""
        print(f"{run['label']:<34}{run['rps']:>10.1f}{run['p50_ms']:>9.1f}{run['p99_ms']:>9.1f}"
              f"{run['mean_bytes'] / 1000:>9.1f}{run['max_bytes'] / 1000:>8.0f}{feats:>10}{ratio:>11}")
for r in rows:
    if "peak_rss_mb" in r:
        print(f"{r['label']:<34}{r['peak_rss_mb']:>10} MB")
