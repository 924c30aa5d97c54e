"""Prints the side-by-side table of a tiles-vs-martin.sh run: one row per run, Bando's over
Martin's requests/s as the ratio."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
runs = {r["label"]: r for r in rows if "rps" in r}
print(f"{'run':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'mean kB':>9}{'max kB':>8}{'feat/tile':>10}{'vs Martin':>11}")
for label, r in runs.items():
    if not label.startswith("bando"):
        continue
    for who in ("bando", "martin"):
        run = runs.get(label.replace("bando", who, 1))
        if not run:
            continue
        ratio = ""
        peer = runs.get(label.replace("bando", "martin", 1))
        if who == "bando" and peer and peer["rps"] > 0:
            ratio = f"{r['rps'] / peer['rps']:.1f}x"
        feats = f"{run['mean_features']:.0f}" if run.get("mean_features") is not None else ""
        print(f"{run['label']:<34}{run['rps']:>10.1f}{run['p50_ms']:>9.1f}{run['p99_ms']:>9.1f}"
              f"{run['mean_bytes'] / 1000:>9.1f}{run['max_bytes'] / 1000:>8.0f}{feats:>10}{ratio:>11}")
for r in rows:
    if "peak_rss_mb" in r:
        print(f"{r['label']:<34}{r['peak_rss_mb']:>10} MB")
